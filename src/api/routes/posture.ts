import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { buildReport, type ReportOptions, renderReport, selfAssessmentSection, type TransportTlsStats } from '../../posture/index.js';
import { AUTHED, IDEMPOTENT, JSON_BODY, problems } from '../contract/problem-schema.js';
import { actorOf } from '../plugins/actor.js';
import { principalOf } from '../plugins/auth.js';
import type { ApiServices } from '../services.js';
import { List, NoContent } from './json.js';

/**
 * DNS posture: ad-hoc audits and evidence reports of any domain, the history of a managed domain,
 * the watch list and the tenant's approved MX servers. Audits use the server's configured DNS.
 */
const Domain = Type.String({ minLength: 1, maxLength: 253, description: 'domain name, e.g. example.com', examples: ['example.com'] });
const Json = Type.Record(Type.String(), Type.Unknown());
const Finding = Type.Object(
  {
    id: Type.String({ description: 'Stable dotted id (spf.lookup-limit); the first part is the area.' }),
    area: Type.String(),
    severity: Type.String({ description: 'critical, high, medium, low or info.' }),
    rfc: Type.String({ description: 'The section the finding rests on.' }),
    title: Type.String(),
    subject: Type.String({ description: 'The name it is about.' }),
    found: Type.String(),
    why: Type.String(),
    fix: Type.Optional(Type.String({ description: 'The record or change that fixes it.' })),
    controls: Type.Array(Type.String(), { description: 'Control ids this finding evidences.' }),
    evidence: Json,
  },
  { additionalProperties: false },
);
/** An audit keeps the field names of the posture report (camelCase), as it always has. */
const AuditJson = Type.Object(
  {
    domain: Type.String(),
    auditedAt: Type.String({ format: 'date-time' }),
    resolver: Type.String({ description: 'The resolver the answers came from (its AD bit backs the DNSSEC verdicts).' }),
    durationMs: Type.Number(),
    summary: Type.Record(Type.String(), Type.Integer(), { description: 'Findings per severity.' }),
    findings: Type.Array(Finding),
    facts: Type.Record(Type.String(), Json, {
      description: 'What each area saw, per area (mx, spf, dkim, dmarc, mta-sts, tls-rpt, dnssec-dane, bimi).',
    }),
    senders: Type.Array(
      Type.Object(
        { service: Type.String(), domain: Type.String(), mechanism: Type.String(), via: Type.Array(Type.String()), known: Type.Boolean() },
        { additionalProperties: false },
      ),
      { description: 'Services the SPF record authorises.' },
    ),
    queries: Type.Array(
      Type.Object(
        {
          name: Type.String(),
          type: Type.String(),
          outcome: Type.String({ description: 'answer, nxdomain, nodata or error.' }),
          answers: Type.Array(Type.String()),
          authenticated: Type.Boolean({ description: 'The AD bit (RFC 4035 §3.2.3).' }),
          error: Type.Optional(Type.String()),
        },
        { additionalProperties: false },
      ),
      { description: 'Every DNS query of the audit and its answer.' },
    ),
  },
  {
    additionalProperties: false,
    examples: [
      {
        domain: 'example.com',
        auditedAt: '2026-01-05T12:00:00.000Z',
        resolver: '127.0.0.1:53',
        durationMs: 412,
        summary: { critical: 0, high: 0, medium: 1, low: 0, info: 2 },
        findings: [],
        facts: { mx: {}, spf: {} },
        senders: [],
        queries: [{ name: 'example.com', type: 'MX', outcome: 'answer', answers: ['10 mx1.example.com.'], authenticated: false }],
      },
    ],
  },
);
const HistoryJson = Type.Object(
  {
    domain: Type.String(),
    data: Type.Array(
      Type.Object(
        {
          snapshotId: Type.String(),
          takenAt: Type.String({ format: 'date-time' }),
          resolver: Type.String(),
          findings: Type.Array(
            Type.Object({ id: Type.String(), severity: Type.String(), subject: Type.String() }, { additionalProperties: false }),
          ),
          changes: Type.Array(Type.Object({}, { additionalProperties: true }), {
            description: 'Records that changed since the snapshot before.',
          }),
          alerts: Type.Array(Type.Object({}, { additionalProperties: true }), {
            description: 'What the changes mean (each also an event).',
          }),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false, examples: [{ domain: 'example.com', data: [] }] },
);
const Watched = Type.Object(
  { domain: Type.String(), created_at: Type.String({ format: 'date-time' }) },
  { additionalProperties: false, examples: [{ domain: 'partner.example', created_at: '2026-01-05T12:00:00.000Z' }] },
);
const WatchResult = Type.Object(
  { domain: Type.String(), added: Type.Boolean({ description: 'False when it was already watched.' }) },
  { additionalProperties: false, examples: [{ domain: 'partner.example', added: true }] },
);
const ApprovedMx = Type.Object(
  { approved_mx: Type.Union([Type.Array(Type.String()), Type.Null()], { description: 'null: not set (any MX is accepted).' }) },
  { additionalProperties: false, examples: [{ approved_mx: ['mx1.example.com', '*.mail.example.net'] }] },
);
const Selectors = Type.Optional(Type.String({ description: 'DKIM selectors, comma-separated' }));
const list = (s: string | undefined) =>
  s
    ? s
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean)
    : undefined;

/** The evidence period for transport encryption and the records of processing: the last 30 days. */
const REPORT_PERIOD_MS = 30 * 86_400_000;

/**
 * The tenant's transport-encryption figures for the evidence report (shares of its deliveries over
 * TLS, verified TLS, MTA-STS and DANE), or nothing when it delivered nothing in the period.
 */
async function tenantTransportTls(
  s: ApiServices,
  tenantId: string,
  period: { from: number; to: number },
): Promise<TransportTlsStats | undefined> {
  if (!s.tlsStats) return undefined;
  const st = await s.tlsStats({ tenantId, ...period });
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
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.get(
    '/audits',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['posture'],
        summary: 'Audit a domain now',
        description:
          "Audits any domain's public DNS (MX, SPF, DKIM selectors, DMARC, MTA-STS, TLS-RPT, DNSSEC and DANE, BIMI): findings with RFC, why and fix, every query and answer. Nothing is stored.",
        querystring: Type.Object({ domain: Domain, selectors: Selectors }, { additionalProperties: false }),
        response: { 200: AuditJson, ...problems(...AUTHED, 422) },
      },
    },
    async (request) => {
      const p = principalOf(request);
      return s.posture.audit(p.tenant.id, request.query.domain, list(request.query.selectors));
    },
  );
  r.get(
    '/audits/report',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['posture'],
        summary: 'Evidence report of a fresh audit',
        description:
          "A fresh audit rendered as html, md or json for auditors: findings mapped to controls (GDPR, HIPAA, PCI DSS, ISO 27001, SOX, SOC 2 CC6.1, CC6.7, CC7.2, CC7.3 with the evidence kept for each), the tenant's transport-encryption figures, its records of processing of the last 30 days, its data protection (encryption at rest and its keys, residency, legal holds, the latest purge runs) and the latest runs of the platform's self-assessment (these three for a caller holding audit:read); X-Report-Digest carries its SHA-256.",
        querystring: Type.Object(
          {
            domain: Domain,
            selectors: Selectors,
            format: Type.Optional(Type.Enum(['html', 'md', 'json'], { type: 'string', default: 'html' })),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Unsafe<unknown>({
            description: 'The report.',
            headers: { 'x-report-digest': { type: 'string', description: 'The SHA-256 digest of the body.' } },
            content: {
              'text/html': { schema: Type.String({ examples: ['<!doctype html>…'] }) },
              'text/markdown': { schema: Type.String({ examples: ['# DNS posture report: example.com…'] }) },
              'application/json': { schema: Type.Record(Type.String(), Type.Unknown(), { examples: [{ domain: 'example.com' }] }) },
            },
          }),
          ...problems(...AUTHED, 422),
        },
      },
    },
    async (request, reply) => {
      const p = principalOf(request);
      const q = request.query;
      const format = q.format ?? 'html';
      const audit = await s.posture.audit(p.tenant.id, q.domain, list(q.selectors));
      const to = s.clock.now();
      const period = { from: to - REPORT_PERIOD_MS, to };
      // The self-assessment and the records are what GET /v1/self-assessment and
      // /v1/compliance/records-of-processing answer: only for a caller who may read those.
      const auditor = p.permissions.has('audit:read');
      const [transportTls, runs, records, protection] = await Promise.all([
        tenantTransportTls(s, p.tenant.id, period),
        auditor ? s.selfAssessment?.().history({ limit: 10 }) : undefined,
        auditor ? s.recordsOfProcessing?.({ tenantId: p.tenant.id, ...period }) : undefined,
        auditor ? s.dataProtection?.(p.tenant.id) : undefined,
      ]);
      const opts: ReportOptions = { generatedAt: audit.auditedAt };
      if (transportTls) opts.transportTls = transportTls;
      if (runs) opts.selfAssessment = selfAssessmentSection(runs);
      if (records) opts.recordsOfProcessing = records;
      if (protection) opts.dataProtection = protection;
      const report = buildReport(audit, opts);
      const type = { html: 'text/html; charset=utf-8', md: 'text/markdown; charset=utf-8', json: 'application/json' }[format];
      return reply.type(type).header('x-report-digest', report.digest).send(renderReport(report, format));
    },
  );
  r.get(
    '/domains/:id/dns-history',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['posture'],
        summary: "A managed domain's DNS history",
        description: 'Its DNS snapshots, oldest first, with the changes and alerts of each monitoring run.',
        params: Type.Object({ id: Type.String({ description: 'Domain id (dom_…).', examples: ['dom_01JD7XY2A5TR'] }) }),
        querystring: Type.Object(
          { limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })) },
          { additionalProperties: false },
        ),
        response: { 200: HistoryJson, ...problems(...AUTHED, 404, 422) },
      },
    },
    async (request) => {
      const p = principalOf(request);
      const d = await s.tenants.getDomain(p.tenant.id, request.params.id);
      return { domain: d.name, data: await s.posture.history(p.tenant.id, d.name, request.query.limit ?? 100) };
    },
  );
  r.get(
    '/dns-watch',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['posture'],
        summary: 'The watch list',
        description: 'Domains audited on schedule besides the managed ones (partners, lookalikes, your other brands).',
        response: { 200: List(Watched), ...problems(...AUTHED) },
      },
    },
    async (request) => {
      const p = principalOf(request);
      return {
        data: (await s.posture.watchList(p.tenant.id)).map((w) => ({ domain: w.domain, created_at: new Date(w.createdAt).toISOString() })),
      };
    },
  );
  r.post(
    '/dns-watch',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['posture'],
        summary: 'Watch a domain',
        description: 'The domain is audited on schedule and its changes become events. 201 when added, 200 when it was already watched.',
        body: Type.Object({ domain: Domain }, { additionalProperties: false, examples: [{ domain: 'partner.example' }] }),
        response: { 200: WatchResult, 201: WatchResult, ...problems(...AUTHED, ...JSON_BODY, ...IDEMPOTENT) },
      },
    },
    async (request, reply) => {
      const p = principalOf(request);
      const w = await s.posture.watch(p.tenant.id, request.body.domain, actorOf(request));
      return w.added ? reply.code(201).send(w) : reply.code(200).send(w);
    },
  );
  r.delete(
    '/dns-watch/:domain',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['posture'],
        summary: 'Stop watching a domain',
        description: 'Its history is kept. 404 when it is not on the watch list.',
        params: Type.Object({ domain: Domain }),
        response: { 204: NoContent('No longer watched.'), ...problems(...AUTHED, 404, 422) },
      },
    },
    async (request, reply) => {
      const p = principalOf(request);
      await s.posture.unwatch(p.tenant.id, request.params.domain, actorOf(request));
      return reply.code(204).send(null);
    },
  );
  r.get(
    '/dns-history',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['posture'],
        summary: 'DNS history of a monitored domain by name',
        description: 'The same as /v1/domains/{id}/dns-history for any monitored domain, managed or watched.',
        querystring: Type.Object(
          { domain: Domain, limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })) },
          { additionalProperties: false },
        ),
        response: { 200: HistoryJson, ...problems(...AUTHED, 422) },
      },
    },
    async (request) => {
      const p = principalOf(request);
      const q = request.query;
      return { domain: q.domain, data: await s.posture.history(p.tenant.id, q.domain, q.limit ?? 100) };
    },
  );
  r.get(
    '/posture/settings',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['posture'],
        summary: 'Posture settings',
        description: 'The approved MX servers: an audit flags any other MX host.',
        response: { 200: ApprovedMx, ...problems(...AUTHED) },
      },
    },
    async (request) => {
      const p = principalOf(request);
      return { approved_mx: (await s.posture.approvedMx(p.tenant.id)) ?? null };
    },
  );
  r.put(
    '/posture/settings',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['posture'],
        summary: 'Set the approved MX servers',
        description: 'Host names or *.domain patterns; an empty list approves none.',
        body: Type.Object(
          { approved_mx: Type.Array(Type.String({ minLength: 1, maxLength: 255 }), { maxItems: 100 }) },
          { additionalProperties: false, examples: [{ approved_mx: ['mx1.example.com', '*.mail.example.net'] }] },
        ),
        response: { 200: ApprovedMx, ...problems(...AUTHED, ...JSON_BODY) },
      },
    },
    async (request) => {
      const p = principalOf(request);
      return { approved_mx: await s.posture.setApprovedMx(p.tenant.id, request.body.approved_mx, actorOf(request)) };
    },
  );
}
