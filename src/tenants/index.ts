export { type Scope, scopes } from './api-keys.js';
export {
  defaultSendingLimits,
  nextOpening,
  patchSendingLimits,
  readSendingLimits,
  type SendingLimits,
  type SendingWindow,
  sendingLimitsJson,
  validTimeZone,
  type Weekday,
} from './sending-limits.js';
export {
  CREDENTIALS_CACHE_MS,
  type CreatedKey,
  coveringDomain,
  createTenants,
  domainCandidates,
  type Principal,
  type Tenants,
  type TenantsDeps,
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
export {
  CreatedKeyJson,
  createdKeyJson,
  KeyJson,
  keyJson,
  SendingLimitsJson,
  SendingWindowJson,
  sendingLimitsExample,
  TenantJson,
  TlsPolicyJson,
  tenantExample,
  tenantJson,
  tlsPolicyJson,
} from './wire.js';
