/**
 * Feedback ingestion: one service behind both doors (the inbound MX and POST /v1/feedback). Given
 * the raw bytes of a document it parses them (parseFeedback), links them to what we sent
 * (attribution.ts), and records the outcome in one transaction: the feedback document, the events,
 * and any DMARC/TLS-RPT rows. Suppressions follow the commit through the injected `suppress`, each
 * citing the event that caused it.
 *
 * What each kind does:
 *   dsn          `failed` recipients → `recipient.bounced` (async: true) with the classification;
 *                hard ones are suppressed (reason hard_bounce). `delayed`/`delivered`/… are recorded
 *                in the document only.
 *   arf          → `recipient.complained`; suppressed (reason complaint), except `not-spam`.
 *                Either suppresses only when attributed by VERP or uploaded over the API: a Message-ID
 *                match from the MX records the event (`suppressed: false`) and suppresses nothing.
 *   dmarc-*      rows per registered domain (aggregate) → `report.received`.
 *   tls-rpt      rows per policy domain → `report.received` for the tenants whose domains they name.
 *   auto-reply   recorded as such; never a bounce, never suppresses (RFC 3834).
 *   unknown      recorded for the operator.
 *
 * Async bounces and the state machine. A DSN usually arrives after the receiving MTA said 250, so
 * the recipient is `delivered`, a terminal state (core/states.ts). We do not rewrite history: the
 * state stays, the spine gets `recipient.bounced` with `async: true`, and suppression protects the
 * next send. A recipient still queued or deferred is left to the delivery engine for the same reason.
 */
import { type Clock, type NewEvent, newEvent, newId, PostwardenError } from '../core/index.js';
import type { VerpKey } from '../identity/index.js';
import type { DmarcRecordRow, ReportClaim, Store, TlsReportRow } from '../store/index.js';
import { attribute } from './attribution.js';
import type { Ruleset } from './bounce-rules.js';
import { classifyRecipients, type Feedback, parseFeedback } from './detect.js';
import {
  documentSummary,
  type IngestResult,
  onArf,
  onDsn,
  reportEvents,
  type Suppress,
  type SuppressRequest,
} from './feedback-outcomes.js';
import { decideMailbox, type MailboxDecision } from './mailboxes.js';
import { checkMimeStructure } from './mime-structure.js';
import { createParsePool, type ParsePoolOptions } from './parse-pool.js';
import type { ProviderMap } from './providers.js';
import { defaultReportLimits } from './report-limits.js';
import { checkDeclaredSize } from './report-payload.js';
import { classifySources, dmarcRows, reportDigest, type SpfAuthorizes, tlsRows } from './report-records.js';
import { type DmarcSummary, summariseDmarc, summariseTlsReports, type TlsPolicyStats } from './report-summary.js';

export interface FeedbackIngestDeps {
  store: Pick<Store, 'transaction' | 'feedback' | 'messages' | 'recipients' | 'domains' | 'dkimKeys'>;
  clock: Clock;
  ruleset: Ruleset;
  providers?: ProviderMap;
  /** VERP keys, current first. */
  verpKeys: readonly VerpKey[];
  suppress: Suppress;
  reportDomain: string;
  bounceLabel: string;
  spfAuthorizes?: SpfAuthorizes;
  keepRaw?: boolean;
  log?: { warn(obj: object, msg: string): void };
  /**
   * Parse in worker threads under a time and memory budget (parse-pool.ts). Without it documents are
   * parsed inline with the default limits: for tests and tools, never for a listener.
   */
  parsing?: Omit<ParsePoolOptions, 'log'>;
}

export interface IngestInput {
  raw: Buffer;
  source: 'smtp' | 'api';
  /** Envelope recipients the MX accepted it for. */
  rcpts?: string[];
  /** Restrict attribution to this tenant (uploads over the API). */
  tenantId?: string;
  filename?: string;
  /** Refuse (VALIDATION_FAILED, nothing stored) a document no parser recognises: uploads want to know. */
  rejectUnknown?: boolean;
}

export function createFeedbackIngest(deps: FeedbackIngestDeps) {
  const { store, clock } = deps;
  const pool = deps.parsing ? createParsePool({ ...deps.parsing, ...(deps.log ? { log: deps.log } : {}) }) : undefined;

  /** Parsed off the event loop when a pool is configured; DSN recipients classified here with our ruleset. */
  async function parse(raw: Buffer, filename: string | undefined): Promise<Feedback> {
    const rules = { ruleset: deps.ruleset, ...(deps.providers ? { providers: deps.providers } : {}) };
    if (!pool) {
      checkMimeStructure(raw, defaultReportLimits);
      checkDeclaredSize(raw);
      return parseFeedback(raw, { ...rules, ...(filename ? { filename } : {}) });
    }
    const parsed = await pool.parse(raw, filename);
    return parsed.kind === 'dsn' ? { ...parsed, dsn: classifyRecipients(parsed.dsn, rules) } : parsed;
  }

  /** The registered domain among `names` (a domain then its parents), first match in that order. */
  async function registered(names: string[]) {
    const rows = await store.domains.findByNames(names);
    for (const n of names) {
      const hit = rows.find((r) => r.name === n);
      if (hit) return hit;
    }
    return undefined;
  }
  const parents = (domain: string) => {
    const labels = domain.toLowerCase().split('.');
    return labels.slice(0, -1).map((_, i) => labels.slice(i).join('.'));
  };

  async function ingest(input: IngestInput): Promise<IngestResult> {
    const now = clock.now();
    const parsed = await parse(input.raw, input.filename);
    if (input.rejectUnknown && parsed.kind === 'unknown') {
      throw new PostwardenError('VALIDATION_FAILED', `Not a bounce, complaint, DMARC or TLS-RPT report, or auto-reply: ${parsed.reason}.`, {
        errors: [{ path: '/', message: parsed.reason }],
      });
    }
    const id = newId('fb', now);
    const rcpts = input.rcpts ?? [];
    const a = await attribute(parsed, rcpts, {
      store,
      verpKeys: deps.verpKeys,
      ...(input.tenantId ? { tenantId: input.tenantId } : {}),
    });
    const result: IngestResult = {
      id,
      kind: parsed.kind,
      tenantId: a?.tenantId ?? input.tenantId ?? null,
      messageId: a?.message.id ?? null,
      attributedVia: a?.via ?? null,
      recipients: [],
      events: [],
      suppressed: [],
      notes: [],
    };
    const events: NewEvent[] = [];
    const suppressions: SuppressRequest[] = [];
    const emit = (e: NewEvent) => {
      const id = newId('evt', now);
      events.push({ ...e, id });
      result.events.push({ id, type: e.type, recipientId: e.recipientId ?? null });
      return id;
    };
    const sendingDomain = a ? a.message.from.slice(a.message.from.lastIndexOf('@') + 1).toLowerCase() : undefined;

    let dmarc: Parameters<typeof store.feedback.insertDmarcRecords>[0] = [];
    let tls: Parameters<typeof store.feedback.insertTlsReports>[0] = [];
    // One claim per report: a report already stored (same reporter and id, or the same content under
    // another id) is noted and its rows are not written again. Uploads claim within their tenant.
    const claims: { claim: ReportClaim; rows: (DmarcRecordRow | TlsReportRow)[] }[] = [];
    const scope = input.tenantId ?? '';
    const reportClaim = (kind: string, orgName: string, reportId: string, domain: string, content: unknown): ReportClaim => ({
      kind,
      scope,
      orgName,
      reportId,
      domain,
      digest: reportDigest(content),
    });
    switch (parsed.kind) {
      case 'dsn':
        onDsn(parsed, a, result, emit, suppressions, sendingDomain, id, input.source);
        break;
      case 'arf':
        onArf(parsed, a, result, emit, suppressions, sendingDomain, id, input.source);
        break;
      case 'dmarc-aggregate': {
        const domains = new Set<string>();
        for (const report of parsed.reports) {
          const d = await registered(parents(report.policyPublished.domain));
          if (!d || (input.tenantId && d.tenantId !== input.tenantId)) {
            result.notes.push(`DMARC report ${report.metadata.reportId} is for ${report.policyPublished.domain}, not a registered domain`);
            continue;
          }
          const classes = await classifySources(report.policyPublished.domain, report.records, deps.spfAuthorizes);
          const rows = dmarcRows(report, classes, { documentId: id, tenantId: d.tenantId, domainId: d.id, now });
          dmarc = dmarc.concat(rows);
          claims.push({
            claim: reportClaim(parsed.kind, report.metadata.orgName, report.metadata.reportId, report.policyPublished.domain, [
              report.metadata.orgName,
              report.policyPublished,
              report.metadata.dateRange,
              report.records,
            ]),
            rows,
          });
          result.tenantId ??= d.tenantId;
          domains.add(d.name);
        }
        result.reports = { records: dmarc.length, newRecords: 0, domains: [...domains] };
        break;
      }
      case 'tls-rpt': {
        const owners = new Map<string, string | null>();
        for (const report of parsed.reports) {
          for (const p of report.policies) {
            const pd = p.policyDomain.toLowerCase();
            if (!owners.has(pd)) owners.set(pd, (await registered(parents(pd)))?.tenantId ?? null);
          }
        }
        for (const report of parsed.reports) {
          const all = tlsRows(report, { documentId: id, tenantFor: (pd) => owners.get(pd) ?? null, now });
          // An upload may not speak for another tenant's domains.
          const rows = all.filter((r) => !input.tenantId || r.tenantId === input.tenantId || r.tenantId === null);
          tls = tls.concat(rows);
          claims.push({
            claim: reportClaim(parsed.kind, report.organizationName, report.reportId, '', [
              report.organizationName,
              report.dateRange,
              report.policies,
            ]),
            rows,
          });
        }
        result.tenantId ??= tls.find((r) => r.tenantId)?.tenantId ?? null;
        result.reports = { records: tls.length, newRecords: 0, domains: [...new Set(tls.map((r) => r.policyDomain))] };
        break;
      }
      case 'dmarc-failure':
        result.feedbackType = parsed.arf.feedbackType;
        break;
      case 'auto-reply':
        result.notes.push('automatic reply (RFC 3834): recorded, not a bounce');
        break;
      case 'unknown':
        result.notes.push(parsed.reason);
        break;
    }

    await store.transaction(async (tx) => {
      // Claims first: what they find (a report stored before) goes into the document's summary.
      const fresh: (DmarcRecordRow | TlsReportRow)[] = [];
      for (const c of claims) {
        const earlier = await tx.feedback.claimReport({ ...c.claim, documentId: id, receivedAt: now });
        if (earlier) {
          result.notes.push(
            `report ${c.claim.reportId || '(no id)'} from ${c.claim.orgName || '(no organisation)'} was already stored (${earlier}); its records were not counted again`,
          );
        } else fresh.push(...c.rows);
      }
      await tx.feedback.insertDocument({
        id,
        tenantId: result.tenantId,
        kind: parsed.kind,
        source: input.source,
        rcpt: rcpts.length ? rcpts.join(', ') : null,
        messageId: result.messageId,
        receivedAt: now,
        summary: documentSummary(parsed, result),
        rawSize: input.raw.length,
        raw: deps.keepRaw ? input.raw : null,
      });
      if (result.reports) {
        result.reports.newRecords =
          parsed.kind === 'dmarc-aggregate'
            ? await tx.feedback.insertDmarcRecords(fresh as DmarcRecordRow[])
            : await tx.feedback.insertTlsReports(fresh as TlsReportRow[]);
        reportEvents(parsed, result, dmarc, tls, emit);
      } else if (parsed.kind === 'dmarc-failure' && result.tenantId) {
        emit(
          newEvent(
            'report.received',
            { tenantId: result.tenantId, messageId: result.messageId },
            { kind: parsed.kind, feedback_id: id, organization: parsed.arf.reportingMta ?? null, domains: parsed.arf.reportedDomains },
          ),
        );
      }
      await tx.events.append(events, now);
      // In the same transaction: if a suppression cannot be stored, nothing is, and the sender
      // (the MX answers 4xx) or the API client tries again.
      for (const s of suppressions) if (await deps.suppress(s, tx)) result.suppressed.push(s.address);
    });
    return result;
  }

  return {
    ingest,
    close: async () => pool?.close(),
    /** RCPT-time decision for the inbound MX (see mailboxes.ts). */
    decideMailbox(address: string): Promise<MailboxDecision> {
      return decideMailbox(address, {
        reportDomain: deps.reportDomain,
        bounceLabel: deps.bounceLabel,
        verpKeys: deps.verpKeys,
        findRegisteredDomain: async (names) => (await registered(names))?.name,
      });
    },
    /** DMARC summary of one of the tenant's domains over the last `days` days. */
    async dmarcSummary(domain: { id: string; tenantId: string; name: string }, days: number): Promise<DmarcSummary> {
      const toMs = clock.now();
      const fromMs = toMs - days * 86_400_000;
      const rows = await store.feedback.dmarcRecords(domain.id, fromMs);
      // The platform signs with the From domain's active key, so a day's sends are aligned when it has one.
      const signed = (await store.dkimKeys.activeFor([domain.name])).length > 0;
      const sends = (await store.feedback.sendsPerDay(domain.tenantId, domain.name, fromMs)).map((d) => ({
        date: d.day,
        count: d.count,
        aligned: signed ? d.count : 0,
      }));
      return summariseDmarc(domain.name, rows, sends, { fromMs, toMs, days });
    },
    /** TLS-RPT statistics (inbound transport security as reporters saw it) since `sinceMs`. */
    async transportSecurityStats(q: { sinceMs: number; policyDomains?: string[] }): Promise<TlsPolicyStats[]> {
      return summariseTlsReports(await store.feedback.tlsReports(q));
    },
  };
}

export type FeedbackIngest = ReturnType<typeof createFeedbackIngest>;
export type { IngestedRecipient, IngestResult, Suppress, SuppressRequest } from './feedback-outcomes.js';
