import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { TenantJson, tenantJson } from '../../tenants/index.js';
import { AUTHED, JSON_BODY, problems } from '../contract/problem-schema.js';
import { actorOf } from '../plugins/actor.js';
import { principalOf } from '../plugins/auth.js';
import type { ApiServices } from '../services.js';

/** /v1/tenant: the presented key's tenant, and its settings (alignment policy: warn | reject). */
const TenantWithScopes = Type.Object(
  {
    ...TenantJson.properties,
    scopes: Type.Array(Type.Enum(['send', 'read', 'admin'], { type: 'string' }), { description: 'The scopes of the presented key.' }),
  },
  {
    additionalProperties: false,
    examples: [
      {
        id: 'ten_01JD7XW0P4Z9',
        name: 'Acme',
        sandbox: false,
        alignment: 'warn',
        created_at: '2026-01-05T09:30:00.000Z',
        scopes: ['send', 'read'],
      },
    ],
  },
);

export function tenantRoutes(app: FastifyInstance, s: ApiServices): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.get(
    '/tenant',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['tenant'],
        summary: 'The tenant of the presented key',
        description: 'Who the key belongs to, whether it is a sandbox, its alignment policy, and the scopes of the key itself.',
        response: { 200: TenantWithScopes, ...problems(...AUTHED) },
      },
    },
    async (request) => {
      const p = principalOf(request);
      return { ...tenantJson(p.tenant), scopes: p.scopes };
    },
  );
  r.patch(
    '/tenant',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['tenant'],
        summary: 'Change tenant settings',
        description:
          'alignment: what a send whose From domain would fail DMARC alignment gets. warn records it on the message; reject refuses the send with 422 SENDER_MISALIGNED.',
        body: Type.Object(
          { alignment: Type.Optional(Type.Union([Type.Literal('warn'), Type.Literal('reject')])) },
          { additionalProperties: false, examples: [{ alignment: 'reject' }] },
        ),
        response: { 200: TenantJson, ...problems(...AUTHED, ...JSON_BODY) },
      },
    },
    async (request) => {
      const p = principalOf(request);
      const { alignment } = request.body;
      return tenantJson(
        await s.tenants.updateTenant(p.tenant.id, { ...(alignment ? { alignmentPolicy: alignment } : {}) }, actorOf(request)),
      );
    },
  );
}
