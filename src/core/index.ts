export * from './address.js';
export * from './clock.js';
export * from './errors.js';
export { renderErrorDocs } from './errors-doc.js';
export * from './events.js';
export * from './ids.js';
export * from './result.js';
export * from './smtp-response.js';
export * from './states.js';
