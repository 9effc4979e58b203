export { buildApi } from './app.js';
export type { ApiServices } from './services.js';
