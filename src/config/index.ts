export { nodeHostname, platformIdentityOf, selfAssessmentListeners, type UnqualifiedName, unqualifiedNames } from './derived.js';
export { renderConfigDocs } from './docs.js';
export { type DeepPartial, envAliases, type LoadConfigInput, loadConfig } from './load.js';
export { type Config, ConfigSchema } from './schema.js';
