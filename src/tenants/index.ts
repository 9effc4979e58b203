export { hasScope, type Scope, scopes } from './api-keys.js';
export { type CreatedKey, createTenants, type Principal, type Tenants, type TenantsDeps } from './tenants.js';
