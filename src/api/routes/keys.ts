import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { principalOf } from '../plugins/auth.js';
import type { ApiServices } from '../services.js';
import { iso } from './json.js';

type KeyView = { id: string; name: string; hint: string; scopes: string[]; createdAt: number; revokedAt: number | null };
const keyJson = (k: KeyView) => ({
  id: k.id,
  name: k.name,
  hint: k.hint,
  scopes: k.scopes,
  created_at: iso(k.createdAt),
  revoked_at: iso(k.revokedAt),
});

export function keyRoutes(app: FastifyInstance, s: ApiServices): void {
  app.post(
    '/v1/keys',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['keys'],
        summary: 'Create an API key for this tenant (the secret is shown once)',
        body: Type.Object(
          { name: Type.Optional(Type.String({ maxLength: 200 })), scopes: Type.Array(Type.String(), { minItems: 1 }) },
          { additionalProperties: false },
        ),
      },
    },
    async (request, reply) => {
      const p = principalOf(request);
      const body = request.body as { name?: string; scopes: string[] };
      const created = await s.tenants.createKey({ tenantId: p.tenant.id, name: body.name, scopes: body.scopes });
      return reply.code(201).send({ ...keyJson(created.key), secret: created.secret });
    },
  );
  app.get(
    '/v1/keys',
    { config: { scope: 'admin' }, schema: { tags: ['keys'], summary: 'List API keys (never their secrets)' } },
    async (request) => {
      const p = principalOf(request);
      return { data: (await s.tenants.listKeys(p.tenant.id)).map(keyJson) };
    },
  );
  app.delete(
    '/v1/keys/:id',
    { config: { scope: 'admin' }, schema: { tags: ['keys'], params: Type.Object({ id: Type.String() }) } },
    async (request, reply) => {
      const p = principalOf(request);
      await s.tenants.revokeKey(p.tenant.id, (request.params as { id: string }).id);
      return reply.code(204).send();
    },
  );
}
