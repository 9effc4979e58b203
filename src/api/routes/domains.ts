import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { isPostwardenError } from '../../core/index.js';
import { type DomainVerification, dkimKeyJson, recordJson, verificationJson } from '../../identity/index.js';
import type { DomainRow } from '../../store/index.js';
import { principalOf } from '../plugins/auth.js';
import type { ApiServices } from '../services.js';
import { iso } from './json.js';

const domainJson = (d: DomainRow) => ({
  id: d.id,
  name: d.name,
  streams: d.streams ?? null,
  created_at: iso(d.createdAt),
  checked_at: iso(d.checkedAt ?? null),
  verified_at: iso(d.verifiedAt ?? null),
});
const Id = Type.Object({ id: Type.String() });
const Streams = Type.Array(Type.Union([Type.Literal('transactional'), Type.Literal('marketing'), Type.Literal('cold')]), {
  description: 'Streams that may send as this domain; absent or empty: all.',
});

/**
 * A sandboxed domain is added even when the platform's names have no dot (nothing leaves the
 * machine); its answer then carries why the records are withheld instead of records that cannot work.
 */
async function recordsOrProblem(s: ApiServices, tenantId: string, domainId: string) {
  try {
    return { dns_records: (await s.domains.dnsRecords(tenantId, domainId)).map(recordJson) };
  } catch (e) {
    if (!isPostwardenError(e) || e.code !== 'HOSTNAME_UNQUALIFIED') throw e;
    return { dns_records: [], dns_records_withheld: { code: e.code, detail: e.message, errors: e.details.errors ?? [] } };
  }
}

export function domainRoutes(app: FastifyInstance, s: ApiServices): void {
  app.post(
    '/v1/domains',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['domains'],
        summary: 'Add a sending domain; the answer lists every DNS record to publish, each with why',
        body: Type.Object({ name: Type.String({ minLength: 1 }), streams: Type.Optional(Streams) }, { additionalProperties: false }),
      },
    },
    async (request, reply) => {
      const p = principalOf(request);
      const body = request.body as { name: string; streams?: string[] };
      const added = await s.domains.addDomain(p.tenant.id, body.name, { streams: body.streams });
      return reply.code(201).send({ ...domainJson(added.domain), ...(await recordsOrProblem(s, p.tenant.id, added.domain.id)) });
    },
  );
  app.get('/v1/domains', { config: { scope: 'read' }, schema: { tags: ['domains'], summary: 'List sending domains' } }, async (request) => {
    const p = principalOf(request);
    return { data: (await s.tenants.listDomains(p.tenant.id)).map(domainJson) };
  });
  app.get('/v1/domains/:id', { config: { scope: 'read' }, schema: { tags: ['domains'], params: Id } }, async (request) => {
    const p = principalOf(request);
    const d = await s.tenants.getDomain(p.tenant.id, (request.params as { id: string }).id);
    const records = await s.domains.dnsRecords(p.tenant.id, d.id);
    return {
      ...domainJson(d),
      dns_records: records.map(recordJson),
      verification: d.verification ? verificationJson(d.verification as DomainVerification) : null,
    };
  });
  app.patch(
    '/v1/domains/:id',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['domains'],
        summary: 'Restrict a domain to streams (null or [] lifts the restriction)',
        params: Id,
        body: Type.Object({ streams: Type.Union([Streams, Type.Null()]) }, { additionalProperties: false }),
      },
    },
    async (request) => {
      const p = principalOf(request);
      const d = await s.domains.setStreams(
        p.tenant.id,
        (request.params as { id: string }).id,
        (request.body as { streams: unknown }).streams,
      );
      return domainJson(d);
    },
  );
  app.post(
    '/v1/domains/:id/verify',
    {
      config: { scope: 'admin' },
      schema: { tags: ['domains'], summary: 'Check every record in live DNS now; per record: ok, missing, mismatch or error', params: Id },
    },
    async (request) => {
      const p = principalOf(request);
      return verificationJson(await s.domains.verify(p.tenant.id, (request.params as { id: string }).id));
    },
  );
  app.get(
    '/v1/domains/:id/dkim',
    { config: { scope: 'read' }, schema: { tags: ['domains'], summary: "The domain's DKIM selectors and their lifecycle", params: Id } },
    async (request) => {
      const p = principalOf(request);
      return { data: (await s.domains.listKeys(p.tenant.id, (request.params as { id: string }).id)).map(dkimKeyJson) };
    },
  );
  app.post(
    '/v1/domains/:id/dkim/rotate',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['domains'],
        summary: 'Start a DKIM rotation: a new pending selector to publish; signing switches once it verifies',
        params: Id,
      },
    },
    async (request, reply) => {
      const p = principalOf(request);
      const id = (request.params as { id: string }).id;
      const created = await s.domains.rotate(p.tenant.id, id);
      const records = (await s.domains.dnsRecords(p.tenant.id, id)).filter((r) => created.some((k) => r.selector === k.selector));
      return reply.code(201).send({ data: created.map(dkimKeyJson), dns_records: records.map(recordJson) });
    },
  );
  app.delete('/v1/domains/:id', { config: { scope: 'admin' }, schema: { tags: ['domains'], params: Id } }, async (request, reply) => {
    const p = principalOf(request);
    await s.tenants.removeDomain(p.tenant.id, (request.params as { id: string }).id);
    return reply.code(204).send();
  });
}
