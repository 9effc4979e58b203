import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import {
  type Caller,
  MAX_PASSWORD_LENGTH,
  MIN_PASSWORD_LENGTH,
  PermissionJson,
  RoleJson,
  roleJson,
  UserJson,
  userJson,
} from '../../access/index.js';
import type { Principal } from '../../tenants/index.js';
import { AUTHED, IDEMPOTENT, JSON_BODY, problems } from '../contract/problem-schema.js';
import { actorOf } from '../plugins/actor.js';
import { principalOf } from '../plugins/auth.js';
import type { ApiServices } from '../services.js';
import { List, NoContent } from './json.js';

/**
 * /v1/users and /v1/roles: the people of the caller's tenant and its custom roles (src/access/users.ts).
 * A caller grants only permissions it holds, and only an owner makes or unmakes an owner (403 naming
 * the permission otherwise); the last active owner cannot be demoted or disabled (409).
 */
export function callerOf(p: Principal): Caller {
  return p.user
    ? { kind: 'user', userId: p.user.id, role: p.user.role, permissions: p.permissions }
    : { kind: 'key', keyId: p.keyId, permissions: p.permissions };
}

const Password = Type.String({
  minLength: MIN_PASSWORD_LENGTH,
  maxLength: MAX_PASSWORD_LENGTH,
  description: `${MIN_PASSWORD_LENGTH} characters or more; stored as an Argon2id hash.`,
});
const UserId = Type.Object({ id: Type.String({ description: 'User id (usr_…).', examples: ['usr_01JD7XW3M2QKZ8R5V6T7Y9A0BC'] }) });
const RoleName = Type.Object({ name: Type.String({ description: 'Role name (a-z, 0-9, -).', examples: ['billing-support'] }) });

export function userRoutes(app: FastifyInstance, s: ApiServices): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.get(
    '/users',
    {
      schema: {
        tags: ['users'],
        summary: 'List users',
        description: 'Every user of this tenant, disabled ones included; never a password hash or TOTP secret.',
        response: { 200: List(UserJson), ...problems(...AUTHED) },
      },
    },
    async (request) => ({ data: (await s.access.users.listUsers(principalOf(request).tenant.id)).map(userJson) }),
  );
  r.post(
    '/users',
    {
      schema: {
        tags: ['users'],
        summary: 'Create a user',
        description:
          'A person of this tenant with a role (built-in or custom). Without a password the user can only sign in through an external identity once SSO is set up.',
        body: Type.Object(
          {
            email: Type.String({ maxLength: 254 }),
            name: Type.Optional(Type.String({ maxLength: 200 })),
            role: Type.String({ minLength: 1, maxLength: 40 }),
            password: Type.Optional(Password),
          },
          {
            additionalProperties: false,
            examples: [{ email: 'ana@example.com', name: 'Ana', role: 'developer', password: 'correct horse battery' }],
          },
        ),
        response: { 201: UserJson, ...problems(...AUTHED, ...JSON_BODY, ...IDEMPOTENT) },
      },
    },
    async (request, reply) => {
      const p = principalOf(request);
      const user = await s.access.users.createUser(callerOf(p), { tenantId: p.tenant.id, ...request.body }, { actor: actorOf(request) });
      return reply.code(201).send(userJson(user));
    },
  );
  r.patch(
    '/users/:id',
    {
      schema: {
        tags: ['users'],
        summary: 'Change a user: role, name, password, disabled',
        description:
          'Disabling a user (or setting a new password) ends every session they have at once; a role change applies to their next request.',
        params: UserId,
        body: Type.Object(
          {
            role: Type.Optional(Type.String({ minLength: 1, maxLength: 40 })),
            name: Type.Optional(Type.String({ maxLength: 200 })),
            disabled: Type.Optional(Type.Boolean()),
            password: Type.Optional(Password),
          },
          { additionalProperties: false, examples: [{ role: 'analyst' }, { disabled: true }] },
        ),
        response: { 200: UserJson, ...problems(...AUTHED, ...JSON_BODY, 404, 409) },
      },
    },
    async (request) => {
      const p = principalOf(request);
      return userJson(await s.access.users.updateUser(callerOf(p), p.tenant.id, request.params.id, request.body, actorOf(request)));
    },
  );
  r.get(
    '/roles',
    {
      schema: {
        tags: ['users'],
        summary: 'List roles',
        description: 'The built-in roles and the custom roles of this tenant, each with its permissions.',
        response: { 200: List(RoleJson), ...problems(...AUTHED) },
      },
    },
    async (request) => ({ data: (await s.access.users.listRoles(principalOf(request).tenant.id)).map(roleJson) }),
  );
  r.put(
    '/roles/:name',
    {
      schema: {
        tags: ['users'],
        summary: 'Create or replace a custom role',
        description: 'A named set of permissions for this tenant. Built-in names cannot be used; you can grant only permissions you hold.',
        params: RoleName,
        body: Type.Object(
          { permissions: Type.Array(PermissionJson, { minItems: 1 }), description: Type.Optional(Type.String({ maxLength: 500 })) },
          {
            additionalProperties: false,
            examples: [{ permissions: ['messages:read', 'suppressions:read'], description: 'Billing support' }],
          },
        ),
        response: { 200: RoleJson, ...problems(...AUTHED, ...JSON_BODY) },
      },
    },
    async (request) => {
      const p = principalOf(request);
      const role = await s.access.users.putRole(callerOf(p), p.tenant.id, request.params.name, request.body, actorOf(request));
      return roleJson({ ...role, builtIn: false });
    },
  );
  r.delete(
    '/roles/:name',
    {
      schema: {
        tags: ['users'],
        summary: 'Remove a custom role',
        description: 'Refused (409) while a user has the role.',
        params: RoleName,
        response: { 204: NoContent('Removed.'), ...problems(...AUTHED, 404, 409, 422) },
      },
    },
    async (request, reply) => {
      await s.access.users.deleteRole(principalOf(request).tenant.id, request.params.name, actorOf(request));
      return reply.code(204).send(null);
    },
  );
}
