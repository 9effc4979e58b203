export { type Access, type AccessDeps, createAccess } from './access.js';
export { type CommandAccess, commandAccessFor, commandPermissions } from './command-permissions.js';
export { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from './passwords.js';
export {
  type BuiltInRole,
  builtInRoles,
  checkKeyGrants,
  checkPermission,
  expandGrants,
  isPermission,
  isScopeAlias,
  type Permission,
  type PermissionHolder,
  parseGrants,
  permissionMeaning,
  permissions,
  rolePermissions,
  type ScopeAlias,
  scopeAliases,
} from './permissions.js';
export { accessFor, type RouteAccess, routeKey, routePermissions } from './route-permissions.js';
export { type ActiveSession, type RequestMeta, type Sessions, type StartedSession, sameSecret } from './sessions.js';
export type { Sso, SsoConfigInput, SsoStart } from './sso.js';
export { OidcSettingsJson, SamlSettingsJson } from './sso-settings.js';
export { blockSeconds, type Throttle, type ThrottlePolicy } from './throttle.js';
export { type Caller, createUsers, type NewUser, normaliseEmail, type UserPatchInput, type Users } from './users.js';
export { MeJson, PermissionJson, RoleJson, roleJson, UserJson, userExample, userJson } from './wire.js';
