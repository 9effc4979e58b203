import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { PostwardenError } from '../../core/index.js';
import type { IngestResult } from '../../feedback/index.js';
import { principalOf } from '../plugins/auth.js';
import type { ApiServices } from '../services.js';

/**
 * Feedback over HTTP: the same ingestion as the inbound MX for documents that reached the tenant
 * some other way (a mailbox provider's FBL mailbox, a DMARC report downloaded from a portal), and
 * the DMARC summary of a sending domain built from the stored aggregate reports.
 */
const RAW_TYPES = ['message/rfc822', 'application/octet-stream'];

export function ingestJson(r: IngestResult) {
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
  app.addContentTypeParser(RAW_TYPES, { parseAs: 'buffer', bodyLimit: s.limits.maxFeedbackBytes }, (_req, body, done) => done(null, body));

  app.post(
    '/v1/feedback',
    {
      config: { scope: 'send' },
      bodyLimit: Math.ceil(s.limits.maxFeedbackBytes * 1.4) + 1024,
      schema: {
        tags: ['feedback'],
        summary:
          'Upload a bounce, complaint, DMARC or TLS-RPT report: the raw message as message/rfc822 (or a bare report as application/octet-stream), or JSON { raw: base64 }',
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

  app.get(
    '/v1/domains/:id/dmarc',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['domains'],
        summary: 'DMARC summary of a sending domain from received aggregate reports: sources, volumes, pass rates, policy advice',
        params: Type.Object({ id: Type.String() }),
        querystring: Type.Object({ days: Type.Integer({ minimum: 1, maximum: 366, default: 30 }) }),
      },
    },
    async (request) => {
      const p = principalOf(request);
      const d = await s.tenants.getDomain(p.tenant.id, (request.params as { id: string }).id);
      const days = (request.query as { days: number }).days;
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
        advice: sum.advice,
      };
    },
  );
}

function rawOf(body: unknown, limit: number): Buffer {
  if (Buffer.isBuffer(body)) {
    if (body.length === 0) throw invalid('/', 'the body is empty: send the raw message');
    return body;
  }
  if (body && typeof body === 'object' && typeof (body as { raw?: unknown }).raw === 'string') {
    const text = (body as { raw: string }).raw.replace(/\s+/g, '');
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
