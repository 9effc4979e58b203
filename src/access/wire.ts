import { type Static, Type } from 'typebox';
import type { UserRow } from '../store/index.js';
import { builtInRoles, type Permission, permissions } from './permissions.js';

/**
 * The JSON of a user, a role and "who am I": one TypeBox schema and one builder each, used by the HTTP
 * API (/v1/users, /v1/roles, /v1/me) and the CLI's --json alike. Never a password hash or TOTP secret.
 */
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const Time = (description: string) => Type.String({ format: 'date-time', description });
const MaybeTime = (description: string) => Type.Union([Time(description), Type.Null()]);

export const PermissionJson = Type.Enum(permissions, { type: 'string', description: 'A permission (docs/access.md).' });

export const userExample = {
  id: 'usr_01JD7XW3M2QKZ8R5V6T7Y9A0BC',
  tenant_id: 'ten_01JD7XW0P4Z9',
  email: 'ana@example.com',
  name: 'Ana',
  role: 'developer',
  totp: false,
  external_identity: false,
  created_at: '2026-01-05T09:31:00.000Z',
  last_login_at: null,
  disabled_at: null,
};
export const UserJson = Type.Object(
  {
    id: Type.String({ description: 'User id (usr_…).' }),
    tenant_id: Type.Union([Type.String(), Type.Null()], { description: 'The tenant; null for a platform operator.' }),
    email: Type.String(),
    name: Type.String(),
    role: Type.String({ description: `A built-in role (${builtInRoles.join(', ')}) or a custom role of the tenant.` }),
    totp: Type.Boolean({ description: 'Two-factor sign-in (TOTP) is on.' }),
    external_identity: Type.Boolean({ description: 'Linked to an external identity (SSO).' }),
    created_at: Time('When the user was created.'),
    last_login_at: MaybeTime('The last successful sign-in.'),
    disabled_at: MaybeTime('When the user was disabled; a disabled user cannot sign in and has no session.'),
  },
  { additionalProperties: false, examples: [userExample] },
);
export type UserJson = Static<typeof UserJson>;
export const userJson = (u: UserRow): UserJson => ({
  id: u.id,
  tenant_id: u.tenantId,
  email: u.email,
  name: u.name,
  role: u.role,
  totp: u.totpEnabled,
  external_identity: u.externalSubject !== null,
  created_at: new Date(u.createdAt).toISOString(),
  last_login_at: iso(u.lastLoginAt),
  disabled_at: iso(u.disabledAt),
});

export const RoleJson = Type.Object(
  {
    name: Type.String(),
    built_in: Type.Boolean(),
    description: Type.String(),
    permissions: Type.Array(PermissionJson),
  },
  {
    additionalProperties: false,
    examples: [{ name: 'billing-support', built_in: false, description: 'Reads messages', permissions: ['messages:read'] }],
  },
);
export type RoleJson = Static<typeof RoleJson>;
export const roleJson = (r: { name: string; builtIn: boolean; description: string; permissions: readonly string[] }): RoleJson => ({
  name: r.name,
  built_in: r.builtIn,
  description: r.description,
  permissions: r.permissions as Permission[],
});

export const MeJson = Type.Object(
  {
    kind: Type.Enum(['key', 'session'], { type: 'string', description: 'How the caller authenticated.' }),
    tenant_id: Type.String(),
    key_id: Type.Union([Type.String(), Type.Null()], { description: 'The API key (key_…), or null for a session.' }),
    user: Type.Union([UserJson, Type.Null()], { description: 'The signed-in user, or null for a key.' }),
    permissions: Type.Array(PermissionJson),
  },
  {
    additionalProperties: false,
    examples: [{ kind: 'key', tenant_id: 'ten_01JD7XW0P4Z9', key_id: 'key_01JD7XW3M2QK', user: null, permissions: ['messages:send'] }],
  },
);
export type MeJson = Static<typeof MeJson>;
