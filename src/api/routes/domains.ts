import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { DomainRow } from '../../store/index.js';
import { principalOf } from '../plugins/auth.js';
import type { ApiServices } from '../services.js';
import { iso } from './json.js';

const domainJson = (d: DomainRow) => ({ id: d.id, name: d.name, created_at: iso(d.createdAt) });
const Id = Type.Object({ id: Type.String() });

export function domainRoutes(app: FastifyInstance, s: ApiServices): void {
  app.post(
    '/v1/domains',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['domains'],
        summary: 'Add a sending domain; the answer lists the DNS records to publish (DKIM keys are generated now)',
        body: Type.Object({ name: Type.String({ minLength: 1 }) }, { additionalProperties: false }),
      },
    },
    async (request, reply) => {
      const p = principalOf(request);
      const added = await s.domains.addDomain(p.tenant.id, (request.body as { name: string }).name);
      return reply.code(201).send({ ...domainJson(added.domain), dns_records: await s.domains.dnsRecords(p.tenant.id, added.domain.id) });
    },
  );
  app.get('/v1/domains', { config: { scope: 'read' }, schema: { tags: ['domains'], summary: 'List sending domains' } }, async (request) => {
    const p = principalOf(request);
    return { data: (await s.tenants.listDomains(p.tenant.id)).map(domainJson) };
  });
  app.get('/v1/domains/:id', { config: { scope: 'read' }, schema: { tags: ['domains'], params: Id } }, async (request) => {
    const p = principalOf(request);
    const d = await s.tenants.getDomain(p.tenant.id, (request.params as { id: string }).id);
    return { ...domainJson(d), dns_records: await s.domains.dnsRecords(p.tenant.id, d.id) };
  });
  app.delete('/v1/domains/:id', { config: { scope: 'admin' }, schema: { tags: ['domains'], params: Id } }, async (request, reply) => {
    const p = principalOf(request);
    await s.tenants.removeDomain(p.tenant.id, (request.params as { id: string }).id);
    return reply.code(204).send();
  });
}
