export * from './resolver.js';
export { createResolver, type StubResolverOptions } from './stub-resolver.js';
export { resolveMxRoute, siteName, type MxHost, type MxRoute, type MxRouteOptions, type SkippedMxHost } from './mx.js';
