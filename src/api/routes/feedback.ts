import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { type Static, Type } from 'typebox';
import { PostwardenError } from '../../core/index.js';
import type { IngestResult } from '../../feedback/index.js';
import { AUTHED, IDEMPOTENT, JSON_BODY, problems } from '../contract/problem-schema.js';
import { principalOf } from '../plugins/auth.js';
import type { ApiServices } from '../services.js';

/**
 * Feedback over HTTP: the same ingestion as the inbound MX for documents that reached the tenant
 * some other way (a mailbox provider's FBL mailbox, a DMARC report downloaded from a portal), and
 * the DMARC summary of a sending domain built from the stored aggregate reports.
 */
const RAW_TYPES = ['message/rfc822', 'application/octet-stream'];

const Str = Type.String();
const MaybeStr = Type.Union([Type.String(), Type.Null()]);
const Json = Type.Record(Type.String(), Type.Unknown());
export const IngestJson = Type.Object(
  {
    id: Type.String({ description: 'Feedback id (fbk_…).' }),
    kind: Type.Enum(['dsn', 'arf', 'dmarc-aggregate', 'dmarc-failure', 'tls-rpt', 'auto-reply', 'unknown'], {
      type: 'string',
      description: 'What the document was recognised as.',
    }),
    tenant_id: MaybeStr,
    message_id: Type.Union([Type.String(), Type.Null()], { description: 'The message it is about, when attributed.' }),
    attributed_via: Type.Union([Type.Enum(['verp', 'message-id'], { type: 'string' }), Type.Null()]),
    feedback_type: Type.Optional(Type.String({ description: 'ARF only: abuse, fraud, not-spam, …' })),
    recipients: Type.Array(
      Type.Object(
        {
          address: Str,
          action: Type.String({ description: 'DSN action (failed, delayed, …) or the complaint.' }),
          status: MaybeStr,
          reply_code: Type.Union([Type.Integer(), Type.Null()]),
          diagnostic: MaybeStr,
          category: Type.String({ description: 'The classification (rules/bounces).' }),
          hard: Type.Boolean(),
          rule: MaybeStr,
          ruleset_version: MaybeStr,
          message_id: MaybeStr,
          recipient_id: MaybeStr,
        },
        { additionalProperties: false },
      ),
    ),
    events: Type.Array(Type.Object({ id: Str, type: Str, recipient_id: MaybeStr }, { additionalProperties: false })),
    suppressed: Type.Array(Type.String(), { description: 'Addresses suppressed because of it.' }),
    reports: Type.Optional(
      Type.Object({ records: Type.Integer(), new_records: Type.Integer(), domains: Type.Array(Str) }, { additionalProperties: false }),
    ),
    notes: Type.Array(Type.String()),
  },
  {
    additionalProperties: false,
    examples: [
      {
        id: 'fbk_01JD7Y8R1T',
        kind: 'dsn',
        tenant_id: 'ten_01JD7XW0P4Z9',
        message_id: 'msg_01JD7Y3H2C9M',
        attributed_via: 'message-id',
        recipients: [
          {
            address: 'gone@example.org',
            action: 'failed',
            status: '5.1.1',
            reply_code: 550,
            diagnostic: 'smtp; 550 5.1.1 no such user',
            category: 'bad-mailbox',
            hard: true,
            rule: 'enhanced-5.1.1',
            ruleset_version: '2026.01',
            message_id: 'msg_01JD7Y3H2C9M',
            recipient_id: 'rcp_01JD7Y3H2D1P',
          },
        ],
        events: [{ id: 'evt_01JD7Y8R2U', type: 'recipient.bounced', recipient_id: 'rcp_01JD7Y3H2D1P' }],
        suppressed: ['gone@example.org'],
        notes: [],
      },
    ],
  },
);

const DmarcSummaryJson = Type.Object(
  {
    domain: Str,
    domain_id: Str,
    window: Type.Object({ from: Str, to: Str, days: Type.Integer() }, { additionalProperties: false }),
    reports: Type.Integer(),
    reporters: Type.Array(Str),
    totals: Type.Object(
      {
        messages: Type.Integer(),
        dmarc_pass: Type.Integer(),
        pass_rate: Type.Number(),
        authorized_messages: Type.Integer(),
        unknown_messages: Type.Integer(),
      },
      { additionalProperties: false },
    ),
    sources: Type.Array(
      Type.Object(
        {
          ip: Str,
          authorized: Type.Boolean(),
          reason: Type.String({
            description: 'dkim-aligned-pass, spf-aligned-pass, listed-in-spf or no-aligned-pass (the strongest seen).',
          }),
          messages: Type.Integer(),
          dkim_pass: Type.Integer(),
          spf_pass: Type.Integer(),
          dmarc_pass: Type.Integer(),
          pass_rate: Type.Number(),
          dispositions: Type.Record(Type.String(), Type.Integer()),
          reporters: Type.Array(Str),
          header_from: Type.Array(Str),
        },
        { additionalProperties: false },
      ),
    ),
    published_policy: Type.Union([Json, Type.Null()], { description: 'The policy the reporters saw most recently (policy_published).' }),
    advice: Type.Record(Type.String(), Type.Unknown(), { description: 'The staged policy advice (docs/feedback.md).' }),
  },
  {
    additionalProperties: false,
    examples: [
      {
        domain: 'example.com',
        domain_id: 'dom_01JD7XY2A5TR',
        window: { from: '2025-12-06', to: '2026-01-05', days: 30 },
        reports: 0,
        reporters: [],
        totals: { messages: 0, dmarc_pass: 0, pass_rate: 0, authorized_messages: 0, unknown_messages: 0 },
        sources: [],
        published_policy: null,
        advice: { stage: 'collect' },
      },
    ],
  },
);

export function ingestJson(r: IngestResult): Static<typeof IngestJson> {
  return {
    id: r.id,
    kind: r.kind,
    tenant_id: r.tenantId,
    message_id: r.messageId,
    attributed_via: r.attributedVia,
    ...(r.feedbackType ? { feedback_type: r.feedbackType } : {}),
    recipients: r.recipients.map((x) => ({
      address: x.address,
      action: x.action,
      status: x.status ?? null,
      reply_code: x.replyCode ?? null,
      diagnostic: x.diagnostic ?? null,
      category: x.category,
      hard: x.hard,
      rule: x.rule,
      ruleset_version: x.rulesetVersion || null,
      message_id: x.messageId ?? null,
      recipient_id: x.recipientId ?? null,
    })),
    events: r.events.map((e) => ({ id: e.id, type: e.type, recipient_id: e.recipientId })),
    suppressed: r.suppressed,
    ...(r.reports ? { reports: { records: r.reports.records, new_records: r.reports.newRecords, domains: r.reports.domains } } : {}),
    notes: r.notes,
  };
}

export function feedbackRoutes(app: FastifyInstance, s: ApiServices): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  app.addContentTypeParser(RAW_TYPES, { parseAs: 'buffer', bodyLimit: s.limits.maxFeedbackBytes }, (_req, body, done) => done(null, body));

  r.post(
    '/feedback',
    {
      config: { scope: 'send' },
      bodyLimit: Math.ceil(s.limits.maxFeedbackBytes * 1.4) + 1024,
      schema: {
        tags: ['feedback'],
        summary: 'Upload a bounce, complaint or report',
        description:
          'The same ingestion as the inbound MX, for documents that reached you another way: a DSN, an ARF complaint, a DMARC aggregate or TLS-RPT report. ' +
          'Send the raw message as message/rfc822, a bare report (XML, JSON, gzip, zip) as application/octet-stream, or JSON {"raw": "<base64>"}. ' +
          'X-Filename names a bare report. A document that is none of these answers 422.',
        headers: Type.Object({
          'x-filename': Type.Optional(Type.String({ description: 'The file name of a bare report (its extension tells the format).' })),
        }),
        body: Type.Unsafe<unknown>({
          content: {
            'message/rfc822': {
              schema: {
                description: 'The raw message (RFC 5322).',
                examples: [
                  'From: Mail Delivery System <MAILER-DAEMON@mx.example.org>\r\nContent-Type: multipart/report; report-type=delivery-status; …',
                ],
              },
            },
            'application/octet-stream': {
              schema: { description: 'A bare report file (XML, JSON, gzip or zip).', examples: ['<?xml version="1.0"?><feedback>…'] },
            },
            'application/json': {
              schema: Type.Object(
                { raw: Type.String({ description: 'The document, base64.' }) },
                { examples: [{ raw: 'RnJvbTogTWFpbGVyLURhZW1vbiA8bWFpbGVyLWRhZW1vbkBleGFtcGxlLm9yZz4K…' }] },
              ),
            },
          },
        }),
        response: { 201: IngestJson, ...problems(...AUTHED, ...JSON_BODY, ...IDEMPOTENT, 429) },
      },
    },
    async (request, reply) => {
      const p = principalOf(request);
      const raw = rawOf(request.body, s.limits.maxFeedbackBytes);
      const filename = typeof request.headers['x-filename'] === 'string' ? request.headers['x-filename'] : undefined;
      const result = await s.feedback.ingest({
        raw,
        source: 'api',
        tenantId: p.tenant.id,
        rejectUnknown: true,
        ...(filename ? { filename } : {}),
      });
      return reply.code(201).send(ingestJson(result));
    },
  );

  r.get(
    '/domains/:id/dmarc',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['domains'],
        summary: 'DMARC summary of a sending domain',
        description:
          'Built from the DMARC aggregate reports received for the domain: sending sources, volumes, pass rates, and the staged advice on its DMARC policy.',
        params: Type.Object({ id: Type.String({ description: 'Domain id (dom_…).', examples: ['dom_01JD7XY2A5TR'] }) }),
        querystring: Type.Object({ days: Type.Optional(Type.Integer({ minimum: 1, maximum: 366, default: 30 })) }),
        response: { 200: DmarcSummaryJson, ...problems(...AUTHED, 404, 422) },
      },
    },
    async (request) => {
      const p = principalOf(request);
      const d = await s.tenants.getDomain(p.tenant.id, request.params.id);
      const days = request.query.days ?? 30;
      const sum = await s.feedback.dmarcSummary({ id: d.id, tenantId: p.tenant.id, name: d.name }, days);
      return {
        domain: sum.domain,
        domain_id: d.id,
        window: sum.window,
        reports: sum.reports,
        reporters: sum.reporters,
        totals: {
          messages: sum.totals.messages,
          dmarc_pass: sum.totals.dmarcPass,
          pass_rate: sum.totals.passRate,
          authorized_messages: sum.totals.authorizedMessages,
          unknown_messages: sum.totals.unknownMessages,
        },
        sources: sum.sources.map((x) => ({
          ip: x.ip,
          authorized: x.authorized,
          reason: x.reason,
          messages: x.messages,
          dkim_pass: x.dkimPass,
          spf_pass: x.spfPass,
          dmarc_pass: x.dmarcPass,
          pass_rate: x.passRate,
          dispositions: x.dispositions,
          reporters: x.reporters,
          header_from: x.headerFrom,
        })),
        published_policy: sum.publishedPolicy,
        advice: { ...sum.advice },
      };
    },
  );
}

function rawOf(body: unknown, limit: number): Buffer {
  if (Buffer.isBuffer(body)) {
    if (body.length === 0) throw invalid('/', 'the body is empty: send the raw message');
    return body;
  }
  if (typeof body === 'object' && body !== null && 'raw' in body && typeof body.raw === 'string') {
    const text = body.raw.replace(/\s+/g, '');
    if (!text || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) throw invalid('/raw', 'must be base64');
    const raw = Buffer.from(text, 'base64');
    if (raw.length > limit) throw new PostwardenError('MESSAGE_TOO_LARGE', `the document is over ${limit} bytes`, { limit });
    if (raw.length === 0) throw invalid('/raw', 'must not be empty');
    return raw;
  }
  throw invalid('/raw', 'send the message as message/rfc822 or application/octet-stream, or JSON { "raw": "<base64>" }');
}

function invalid(path: string, message: string): PostwardenError {
  return new PostwardenError('VALIDATION_FAILED', `Feedback upload: ${message}.`, { errors: [{ path, message }] });
}
