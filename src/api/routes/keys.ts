import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { checkKeyGrants } from '../../access/index.js';
import { CreatedKeyJson, createdKeyJson, KeyJson, keyJson } from '../../tenants/index.js';
import { AUTHED, IDEMPOTENT, JSON_BODY, problems } from '../contract/problem-schema.js';
import { actorOf } from '../plugins/actor.js';
import { principalOf } from '../plugins/auth.js';
import type { ApiServices } from '../services.js';
import { List, NoContent } from './json.js';

/** /v1/keys: the API keys of the caller's tenant (admin scope). A secret is shown once, at creation. */
const KeyId = Type.Object({ id: Type.String({ description: 'Key id (key_…).', examples: ['key_01JD7XW3M2QK'] }) });

export function keyRoutes(app: FastifyInstance, s: ApiServices): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.post(
    '/keys',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['keys'],
        summary: 'Create an API key',
        description:
          'Creates a key for this tenant with the given scopes: permissions (docs/access.md) or the legacy send, read, admin (admin includes the others). The caller can give a key only permissions it holds itself (403 naming the first it lacks). The answer carries the secret once; only a hint of it is kept.',
        body: Type.Object(
          {
            name: Type.Optional(Type.String({ maxLength: 200, description: 'A label for people.' })),
            scopes: KeyJson.properties.scopes,
          },
          { additionalProperties: false, examples: [{ name: 'billing service', scopes: ['send'] }] },
        ),
        response: { 201: CreatedKeyJson, ...problems(...AUTHED, ...JSON_BODY, ...IDEMPOTENT) },
      },
    },
    async (request, reply) => {
      const p = principalOf(request);
      checkKeyGrants(p, request.body.scopes);
      const created = await s.tenants.createKey(
        { tenantId: p.tenant.id, name: request.body.name, scopes: request.body.scopes },
        actorOf(request),
      );
      return reply.code(201).send(createdKeyJson(created));
    },
  );
  r.get(
    '/keys',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['keys'],
        summary: 'List API keys',
        description: 'Every key of this tenant, revoked ones included, never their secrets.',
        response: {
          200: List(KeyJson),
          ...problems(...AUTHED),
        },
      },
    },
    async (request) => {
      const p = principalOf(request);
      return { data: (await s.tenants.listKeys(p.tenant.id)).map(keyJson) };
    },
  );
  r.delete(
    '/keys/:id',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['keys'],
        summary: 'Revoke an API key',
        description: 'The key stops working at once. Revoking is final; create a new key instead.',
        params: KeyId,
        response: { 204: NoContent('Revoked.'), ...problems(...AUTHED, 404) },
      },
    },
    async (request, reply) => {
      const p = principalOf(request);
      await s.tenants.revokeKey(p.tenant.id, request.params.id, actorOf(request));
      return reply.code(204).send(null);
    },
  );
}
