export type { CliDeps, ServablePlatform } from './context.js';
export { cliConditions, errorExitCodes, exitCodes } from './output.js';
export { runCli } from './program.js';
