export { buildApi } from './app.js';
export { breakingChanges } from './contract/compatibility.js';
export { deprecationHeaders, type RouteDeprecation } from './contract/deprecation.js';
export { openApiDocument } from './openapi-document.js';
export type { ApiServices, Responder } from './services.js';
