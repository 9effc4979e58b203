import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Tenant } from '../../store/index.js';
import { principalOf } from '../plugins/auth.js';
import type { ApiServices } from '../services.js';

export const tenantSettingsJson = (t: Tenant) => ({ id: t.id, name: t.name, sandbox: t.sandbox, alignment: t.alignmentPolicy });

/** PATCH /v1/tenant: the presented key's tenant settings (alignment policy: warn | reject). */
export function tenantRoutes(app: FastifyInstance, s: ApiServices): void {
  app.patch(
    '/v1/tenant',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['tenant'],
        summary: 'Change tenant settings: alignment (warn: record misaligned sends; reject: refuse them)',
        body: Type.Object(
          { alignment: Type.Optional(Type.Union([Type.Literal('warn'), Type.Literal('reject')])) },
          { additionalProperties: false },
        ),
      },
    },
    async (request) => {
      const p = principalOf(request);
      const body = request.body as { alignment?: 'warn' | 'reject' };
      const t = await s.tenants.updateTenant(p.tenant.id, { ...(body.alignment ? { alignmentPolicy: body.alignment } : {}) });
      return tenantSettingsJson(t);
    },
  );
}
