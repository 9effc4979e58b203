/**
 * What ingestion does with each kind of feedback once it is attributed (see ingest.ts for the
 * overview): the events to append and the suppressions to request, and the summary kept with the
 * document. Pure: the caller commits.
 */
import { addressKey, type NewEvent, newEvent } from '../core/index.js';
import type { Repositories } from '../store/index.js';
import { type Attribution, originalOf, recipientFor } from './attribution.js';
import type { ClassifiedRecipient, Feedback, FeedbackKind } from './detect.js';

export interface SuppressRequest {
  tenantId: string;
  address: string;
  reason: 'hard_bounce' | 'complaint';
  /** The event that caused it (recipient.bounced / recipient.complained). */
  sourceEventId: string;
  /** Sending domain of the message, for identity-scoped suppression. */
  domain?: string;
  stream?: string;
}
/**
 * Suppresses inside the feedback's own transaction (`tx`), so a stored bounce or complaint never
 * lacks its suppression; resolves false when the tenant's policy skipped it.
 */
export type Suppress = (req: SuppressRequest, tx: Repositories) => Promise<boolean>;

/**
 * The one rule for bounces, synchronous (the MX refused the recipient in our own SMTP session) or
 * asynchronous (a DSN attributed by VERP or uploaded through the API): a hard bounce suppresses
 * the address, citing its `recipient.bounced` event; the tenant's policy is applied by `Suppress`.
 * The caller suppresses in the transaction that stores the bounce.
 */
export function bounceSuppression(b: {
  hard: boolean;
  tenantId: string;
  address: string;
  eventId: string;
  domain?: string | undefined;
  stream?: string | undefined;
}): SuppressRequest | null {
  if (!b.hard) return null;
  return {
    tenantId: b.tenantId,
    address: addressKey(b.address),
    reason: 'hard_bounce',
    sourceEventId: b.eventId,
    ...(b.domain ? { domain: b.domain } : {}),
    ...(b.stream ? { stream: b.stream } : {}),
  };
}

export interface IngestedRecipient {
  address: string;
  action: string;
  status?: string;
  replyCode?: number;
  diagnostic?: string;
  category: string;
  hard: boolean;
  rule: string | null;
  rulesetVersion: string;
  messageId?: string;
  recipientId?: string;
}

export interface IngestResult {
  id: string;
  kind: FeedbackKind;
  tenantId: string | null;
  messageId: string | null;
  attributedVia: 'verp' | 'message-id' | null;
  recipients: IngestedRecipient[];
  feedbackType?: string;
  events: { id: string; type: string; recipientId: string | null }[];
  suppressed: string[];
  reports?: { records: number; newRecords: number; domains: string[] };
  notes: string[];
}

const NO_SUPPRESS_FEEDBACK = new Set(['not-spam', 'auth-failure']);

/**
 * Whether an attributed document may suppress tenant-wide. A verified VERP address (its MAC cannot be
 * forged) or an authenticated API upload may; a document that came in over SMTP and matched only by
 * Message-ID may not, since anyone who has seen a Message-ID could forge a DSN or complaint quoting it.
 * Such documents still record their event, which says why nothing was suppressed.
 */
export function maySuppress(a: Attribution, source: 'smtp' | 'api'): boolean {
  return a.via === 'verp' || source === 'api';
}

const NOT_SUPPRESSED = { suppressed: false, why: 'not attributed by VERP' } as const;

/** Appends an event built by newEvent and answers the id it was given. */
export type Emit = (e: NewEvent) => string;

export function onDsn(
  f: Extract<Feedback, { kind: 'dsn' }>,
  a: Attribution | undefined,
  result: IngestResult,
  emit: Emit,
  suppressions: SuppressRequest[],
  domain: string | undefined,
  feedbackId: string,
  source: 'smtp' | 'api',
): void {
  const named: ClassifiedRecipient[] = [...f.dsn.recipients];
  // A bounce that names nobody is about the recipient its VERP address names.
  if (f.dsn.unattributed && a?.verpRecipient) {
    named.push({ ...f.dsn.unattributed, address: a.verpRecipient.address });
  }
  const single = named.length === 1;
  for (const r of named) {
    const c = r.classification;
    const row = a && recipientFor(a, r.address, single);
    const out: IngestedRecipient = {
      address: r.address,
      action: r.action,
      ...(r.status ? { status: r.status } : {}),
      ...(r.reply ? { replyCode: r.reply.code } : {}),
      ...(r.diagnostic ? { diagnostic: r.diagnostic } : {}),
      category: c.category,
      hard: c.hard,
      rule: c.ruleId,
      rulesetVersion: c.rulesetVersion,
      ...(row ? { messageId: row.messageId, recipientId: row.id } : {}),
    };
    result.recipients.push(out);
    if (r.action !== 'failed') continue;
    if (!a || !row) {
      result.notes.push(`bounce for ${r.address} matches no recipient we sent to`);
      continue;
    }
    const suppress = c.hard && maySuppress(a, source);
    const eventId = emit(
      newEvent(
        'recipient.bounced',
        { tenantId: a.tenantId, messageId: row.messageId, recipientId: row.id },
        {
          email: row.address,
          async: true,
          attempt: null,
          reply: r.reply ? `${r.reply.code}${r.reply.enhanced ? ` ${r.reply.enhanced}` : ''} ${r.reply.text}`.trim() : null,
          code: r.reply?.code ?? null,
          enhanced: r.reply?.enhanced ?? r.status ?? null,
          category: c.category,
          hard: c.hard,
          rule: c.ruleId,
          ruleset_version: c.rulesetVersion,
          remote_mta: r.remoteMta ?? null,
          diagnostic: r.diagnostic ?? null,
          dsn_action: r.action,
          dsn_status: r.status ?? null,
          reporting_mta: f.dsn.reportingMta ?? null,
          vendor: f.dsn.vendor,
          feedback_id: feedbackId,
          state: row.state,
          ...(c.hard && !suppress ? NOT_SUPPRESSED : {}),
        },
      ),
    );
    if (c.hard && !suppress) result.notes.push(`hard bounce for ${row.address} not suppressed: not attributed by VERP`);
    const request =
      suppress &&
      bounceSuppression({ hard: c.hard, tenantId: a.tenantId, address: row.address, eventId, domain, stream: a.message.stream });
    if (request) suppressions.push(request);
  }
}

export function onArf(
  f: Extract<Feedback, { kind: 'arf' }>,
  a: Attribution | undefined,
  result: IngestResult,
  emit: Emit,
  suppressions: SuppressRequest[],
  domain: string | undefined,
  feedbackId: string,
  source: 'smtp' | 'api',
): void {
  const arf = f.arf;
  result.feedbackType = arf.feedbackType;
  const named = arf.originalRcptTo.length ? arf.originalRcptTo : (originalOf(f)?.to.slice(0, 1) ?? []);
  const row = a && recipientFor(a, named[0], named.length <= 1);
  if (!a || !row) {
    result.notes.push('complaint matches no recipient we sent to');
    return;
  }
  result.recipients.push({
    address: row.address,
    action: 'complained',
    category: 'complaint',
    hard: false,
    rule: null,
    rulesetVersion: '',
    messageId: row.messageId,
    recipientId: row.id,
  });
  if (arf.feedbackType === 'not-spam') {
    result.notes.push('not-spam report: recorded, no complaint');
    return;
  }
  const suppress = !NO_SUPPRESS_FEEDBACK.has(arf.feedbackType) && maySuppress(a, source);
  const notSuppressed = !NO_SUPPRESS_FEEDBACK.has(arf.feedbackType) && !suppress;
  const eventId = emit(
    newEvent(
      'recipient.complained',
      { tenantId: a.tenantId, messageId: row.messageId, recipientId: row.id },
      {
        email: row.address,
        feedback_type: arf.feedbackType,
        user_agent: arf.userAgent ?? null,
        source_ip: arf.sourceIp ?? null,
        reporter: arf.reportingMta ?? f.message.from[0] ?? null,
        arrival_date: arf.arrivalDate ?? null,
        feedback_id: feedbackId,
        ...(notSuppressed ? NOT_SUPPRESSED : {}),
      },
    ),
  );
  if (notSuppressed) result.notes.push(`complaint for ${row.address} not suppressed: not attributed by VERP`);
  if (suppress) {
    suppressions.push({
      tenantId: a.tenantId,
      address: addressKey(row.address),
      reason: 'complaint',
      sourceEventId: eventId,
      ...(domain ? { domain } : {}),
      stream: a.message.stream,
    });
  }
}

export function reportEvents(
  f: Feedback,
  result: IngestResult,
  dmarc: { tenantId: string; orgName: string; reportId: string; policyDomain: string }[],
  tls: { tenantId: string | null; orgName: string; reportId: string; policyDomain: string }[],
  emit: Emit,
): void {
  const byTenant = new Map<string, { orgs: Set<string>; ids: Set<string>; domains: Set<string>; records: number }>();
  for (const r of [...dmarc, ...tls]) {
    if (!r.tenantId) continue;
    const t = byTenant.get(r.tenantId) ?? { orgs: new Set(), ids: new Set(), domains: new Set(), records: 0 };
    t.orgs.add(r.orgName);
    t.ids.add(r.reportId);
    t.domains.add(r.policyDomain);
    t.records++;
    byTenant.set(r.tenantId, t);
  }
  for (const [tenantId, t] of byTenant) {
    emit(
      newEvent(
        'report.received',
        { tenantId },
        {
          kind: f.kind,
          feedback_id: result.id,
          organization: [...t.orgs].join(', '),
          report_ids: [...t.ids],
          domains: [...t.domains],
          records: t.records,
          new_records: result.reports?.newRecords ?? 0,
        },
      ),
    );
  }
}

export function documentSummary(f: Feedback, r: IngestResult): Record<string, unknown> {
  const base: Record<string, unknown> = {
    kind: f.kind,
    evidence: f.evidence.slice(0, 10),
    subject: f.message?.subject ?? null,
    from: f.message?.from ?? [],
    attributed_via: r.attributedVia,
    recipients: r.recipients,
    notes: r.notes,
  };
  if (r.feedbackType) base.feedback_type = r.feedbackType;
  if (f.kind === 'dsn') base.vendor = f.dsn.vendor;
  if (f.kind === 'dmarc-aggregate') {
    base.reports = f.reports.map((x) => ({
      org: x.metadata.orgName,
      id: x.metadata.reportId,
      domain: x.policyPublished.domain,
      rows: x.records.length,
    }));
    if (f.errors.length) base.errors = f.errors;
  }
  if (f.kind === 'tls-rpt') {
    base.reports = f.reports.map((x) => ({ org: x.organizationName, id: x.reportId, policies: x.policies.length }));
    if (f.errors.length) base.errors = f.errors;
  }
  if (f.kind === 'auto-reply') base.auto_reply = { type: f.autoReply.type, in_reply_to: f.autoReply.inReplyTo ?? null };
  return base;
}
