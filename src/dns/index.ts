export { type MxHost, type MxRoute, type MxRouteOptions, resolveMxRoute, type SkippedMxHost, siteName } from './mx.js';
export { defaultResolvConfPath, parseResolvConf, type ResolvConf, readResolvConf } from './resolv-conf.js';
export * from './resolver.js';
export { createResolver, type StubResolverOptions } from './stub-resolver.js';
