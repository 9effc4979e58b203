export { type Scope, scopes } from './api-keys.js';
export {
  type CreatedKey,
  coveringDomain,
  createTenants,
  domainCandidates,
  type Principal,
  type Tenants,
  type TenantsDeps,
  TLS_POLICY_CACHE_MS,
} from './tenants.js';
export {
  DEFAULT_TLS_POLICY,
  parseTlsPolicyDoc,
  readStoredTlsPolicy,
  type TenantTlsPolicyDoc,
  type TlsPolicyLevel,
  tlsPolicyFor,
  tlsPolicyLevels,
} from './tls-policy.js';
export { CreatedKeyJson, createdKeyJson, KeyJson, keyJson, TenantJson, TlsPolicyJson, tenantJson, tlsPolicyJson } from './wire.js';
