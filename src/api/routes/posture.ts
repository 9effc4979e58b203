import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { buildReport, renderReport, type TransportTlsStats } from '../../posture/index.js';
import { principalOf } from '../plugins/auth.js';
import type { ApiServices } from '../services.js';

/**
 * DNS posture: ad-hoc audits and evidence reports of any domain, the history of a managed domain,
 * the watch list and the tenant's approved MX servers. Audits use the server's configured DNS.
 */
const Domain = Type.String({ minLength: 1, maxLength: 253, description: 'domain name, e.g. example.com' });
const Selectors = Type.Optional(Type.String({ description: 'DKIM selectors, comma-separated' }));
const list = (s: string | undefined) =>
  s
    ? s
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean)
    : undefined;

/** The evidence period for transport encryption: the tenant's deliveries of the last 30 days. */
const TLS_PERIOD_MS = 30 * 86_400_000;

/**
 * The tenant's transport-encryption figures for the evidence report (shares of its deliveries over
 * TLS, verified TLS, MTA-STS and DANE), or nothing when it delivered nothing in the period.
 */
async function tenantTransportTls(s: ApiServices, tenantId: string): Promise<TransportTlsStats | undefined> {
  if (!s.tlsStats) return undefined;
  const to = s.clock.now();
  const st = await s.tlsStats({ tenantId, from: to - TLS_PERIOD_MS, to });
  if (st.total.deliveries === 0) return undefined;
  return {
    period: `${st.from}/${st.to}`,
    deliveries: st.total.deliveries,
    tlsShare: st.total.share.over_tls,
    verifiedShare: st.total.share.verified_tls,
    mtaStsShare: st.total.share.mta_sts_enforced,
    daneShare: st.total.share.dane,
  };
}

export function postureRoutes(app: FastifyInstance, s: ApiServices): void {
  app.get(
    '/v1/audits',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['posture'],
        summary: 'Audit a domain now: findings with RFC, why and fix, every query and answer (nothing is stored)',
        querystring: Type.Object({ domain: Domain, selectors: Selectors }, { additionalProperties: false }),
      },
    },
    async (request) => {
      const p = principalOf(request);
      const q = request.query as { domain: string; selectors?: string };
      return s.posture.audit(p.tenant.id, q.domain, list(q.selectors));
    },
  );
  app.get(
    '/v1/audits/report',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['posture'],
        summary: 'Evidence report of a fresh audit (html, md or json) with its SHA-256 digest in X-Report-Digest',
        querystring: Type.Object(
          {
            domain: Domain,
            selectors: Selectors,
            format: Type.Union([Type.Literal('html'), Type.Literal('md'), Type.Literal('json')], { default: 'html' }),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (request, reply) => {
      const p = principalOf(request);
      const q = request.query as { domain: string; selectors?: string; format: 'html' | 'md' | 'json' };
      const audit = await s.posture.audit(p.tenant.id, q.domain, list(q.selectors));
      const transportTls = await tenantTransportTls(s, p.tenant.id);
      const report = buildReport(audit, { generatedAt: audit.auditedAt, ...(transportTls ? { transportTls } : {}) });
      const type = { html: 'text/html; charset=utf-8', md: 'text/markdown; charset=utf-8', json: 'application/json' }[q.format];
      return reply.type(type).header('x-report-digest', report.digest).send(renderReport(report, q.format));
    },
  );
  app.get(
    '/v1/domains/:id/dns-history',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['posture'],
        summary: "A managed domain's DNS snapshots, oldest first, with the changes and alerts of each run",
        params: Type.Object({ id: Type.String() }),
        querystring: Type.Object({ limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }) }, { additionalProperties: false }),
      },
    },
    async (request) => {
      const p = principalOf(request);
      const d = await s.tenants.getDomain(p.tenant.id, (request.params as { id: string }).id);
      return { domain: d.name, data: await s.posture.history(p.tenant.id, d.name, (request.query as { limit: number }).limit) };
    },
  );
  app.get(
    '/v1/dns-watch',
    { config: { scope: 'read' }, schema: { tags: ['posture'], summary: 'Domains watched besides the managed ones' } },
    async (request) => {
      const p = principalOf(request);
      return {
        data: (await s.posture.watchList(p.tenant.id)).map((w) => ({ domain: w.domain, created_at: new Date(w.createdAt).toISOString() })),
      };
    },
  );
  app.post(
    '/v1/dns-watch',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['posture'],
        summary: 'Watch a domain: audited on schedule, changes become events',
        body: Type.Object({ domain: Domain }, { additionalProperties: false }),
      },
    },
    async (request, reply) => {
      const p = principalOf(request);
      const r = await s.posture.watch(p.tenant.id, (request.body as { domain: string }).domain);
      return reply.code(r.added ? 201 : 200).send(r);
    },
  );
  app.delete(
    '/v1/dns-watch/:domain',
    { config: { scope: 'admin' }, schema: { tags: ['posture'], params: Type.Object({ domain: Domain }) } },
    async (request, reply) => {
      const p = principalOf(request);
      await s.posture.unwatch(p.tenant.id, (request.params as { domain: string }).domain);
      return reply.code(204).send();
    },
  );
  app.get(
    '/v1/dns-history',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['posture'],
        summary: 'DNS history of any monitored domain (managed or watched) by name',
        querystring: Type.Object(
          { domain: Domain, limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }) },
          { additionalProperties: false },
        ),
      },
    },
    async (request) => {
      const p = principalOf(request);
      const q = request.query as { domain: string; limit: number };
      return { domain: q.domain, data: await s.posture.history(p.tenant.id, q.domain, q.limit) };
    },
  );
  app.get('/v1/posture/settings', { config: { scope: 'read' }, schema: { tags: ['posture'] } }, async (request) => {
    const p = principalOf(request);
    return { approved_mx: (await s.posture.approvedMx(p.tenant.id)) ?? null };
  });
  app.put(
    '/v1/posture/settings',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['posture'],
        summary: 'Set the approved MX servers (host names or *.domain patterns)',
        body: Type.Object(
          { approved_mx: Type.Array(Type.String({ minLength: 1, maxLength: 255 }), { maxItems: 100 }) },
          { additionalProperties: false },
        ),
      },
    },
    async (request) => {
      const p = principalOf(request);
      return { approved_mx: await s.posture.setApprovedMx(p.tenant.id, (request.body as { approved_mx: string[] }).approved_mx) };
    },
  );
}
