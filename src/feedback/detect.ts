/**
 * One entry point for everything that comes back: detect what a document is and parse it.
 * Accepts a whole message (what the inbound MX receives) or a bare report payload (what an HTTP
 * upload may carry: DMARC XML/gzip/zip, TLS-RPT JSON/gzip). Order of detection, and why:
 *   1. bare payloads (not an RFC 5322 message): sniffed by magic bytes and first character;
 *   2. RFC 6522 multipart/report parts: delivery-status, then feedback-report, since a bounce of a
 *      complaint or of a report is still a bounce;
 *   3. report attachments (TLS-RPT media types, then DMARC XML/gzip/zip);
 *   4. non-standard bounces by heuristics (bounce-vendor.ts, bounce-text.ts, ses-notification.ts),
 *      then complaints and DMARC failure reports written into the text;
 *   5. auto-replies, which also carry Auto-Submitted: auto-replied and so must come after bounces;
 *   6. otherwise `unknown` with the reason.
 */
import { type ArfReport, parseArfMessage, parseDmarcFailureText } from './arf.js';
import { type AutoReply, detectAutoReply } from './auto-reply.js';
import type { DsnProblemAction, Ruleset } from './bounce-rules.js';
import { type Classification, classify, findEnhancedCode, mostSpecificStatus } from './classifier.js';
import { type DmarcAggregateReport, parseDmarcAggregate } from './dmarc-aggregate.js';
import { type DsnRecipient, type DsnReport, parseDsnMessage } from './dsn.js';
import { addressOf, fieldValue, fieldValues } from './header-fields.js';
import { type MailMessage, type MailPart, readMessage } from './mail-message.js';
import { returnedMessageOffset } from './original-message.js';
import { type ProviderMap, providerOf } from './providers.js';
import { isGzip, isZip, type PayloadFile, unpackBudget, unpackPayload } from './report-payload.js';
import { parseTlsRpt, type TlsReport } from './tls-rpt.js';

export type FeedbackKind = 'dsn' | 'arf' | 'dmarc-aggregate' | 'dmarc-failure' | 'tls-rpt' | 'auto-reply' | 'unknown';

/** The feedback message itself; `to`/`deliveredTo`/`xOriginalTo` hold our VERP address, raw. */
export interface FeedbackMessageInfo {
  messageId?: string;
  from: string[];
  to: string[];
  subject: string;
  date?: string;
  returnPath?: string;
  deliveredTo: string[];
  xOriginalTo: string[];
  inReplyTo?: string;
  references: string[];
}

export interface ClassifiedRecipient extends DsnRecipient {
  /** Destination provider key from the remote MTA host, when a provider map was given. */
  provider?: string;
  classification: Classification;
}

export type ReportError = { name: string; error: string };

export type Feedback =
  | { kind: 'dsn'; message: FeedbackMessageInfo; dsn: DsnReport<ClassifiedRecipient>; evidence: string[] }
  | { kind: 'arf'; message: FeedbackMessageInfo; arf: ArfReport; evidence: string[] }
  | { kind: 'dmarc-failure'; message: FeedbackMessageInfo; arf: ArfReport; evidence: string[] }
  | { kind: 'dmarc-aggregate'; message?: FeedbackMessageInfo; reports: DmarcAggregateReport[]; errors: ReportError[]; evidence: string[] }
  | { kind: 'tls-rpt'; message?: FeedbackMessageInfo; reports: TlsReport[]; errors: ReportError[]; evidence: string[] }
  | { kind: 'auto-reply'; message: FeedbackMessageInfo; autoReply: AutoReply; evidence: string[] }
  | { kind: 'unknown'; message?: FeedbackMessageInfo; reason: string; evidence: string[] };

export interface ParseFeedbackOptions {
  ruleset: Ruleset;
  /** When given, recipients get a provider key from their Remote-MTA for provider-specific rules. */
  providers?: ProviderMap;
  /** Name of the input, used for bare payloads (`report.xml.gz`). */
  filename?: string;
}

export async function parseFeedback(input: Buffer | Uint8Array | string, opts: ParseFeedbackOptions): Promise<Feedback> {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8') : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  if (bytes.length === 0) return { kind: 'unknown', reason: 'empty input', evidence: [] };
  const bare = parseBarePayload(bytes, opts.filename);
  if (bare) return bare;

  const msg = await readMessage(bytes);
  const message = summarise(msg);
  const reportType = (msg.contentTypeParams['report-type'] ?? '').toLowerCase();

  const hasDsnPart = msg.parts.some((p) => /delivery-status$/.test(p.contentType));
  const hasArfPart = msg.parts.some((p) => p.contentType === 'message/feedback-report');
  if (hasDsnPart || (!hasArfPart && reportType === 'delivery-status')) {
    const dsn = parseDsnMessage(msg);
    if (dsn) return { kind: 'dsn', message, dsn: classifyRecipients(dsn, opts), evidence: dsn.evidence };
  }
  if (hasArfPart || reportType === 'feedback-report') {
    const arf = parseArfMessage(msg);
    if (arf) {
      const kind = arf.feedbackType === 'auth-failure' ? 'dmarc-failure' : 'arf';
      return { kind, message, arf, evidence: [...arf.evidence, `Feedback-Type: ${arf.feedbackType}`] };
    }
  }
  const reports = reportAttachments(msg, reportType);
  if (reports) return { ...reports, message };

  // Feedback-report fields written into the text make it a report, whoever sent it (a postmaster
  // address would otherwise pass for a mail system's bounce).
  const ownText = msg.text.slice(0, returnedMessageOffset(msg.text));
  const arfInText = /^Feedback-Type\s*:/im.test(ownText) ? parseArfMessage(msg) : null;
  const dsn = arfInText ? null : parseDsnMessage(msg);
  if (dsn) return { kind: 'dsn', message, dsn: classifyRecipients(dsn, opts), evidence: dsn.evidence };
  const arf = arfInText ?? parseArfMessage(msg) ?? parseDmarcFailureText(msg);
  if (arf) {
    const kind = arf.feedbackType === 'auth-failure' ? 'dmarc-failure' : 'arf';
    return { kind, message, arf, evidence: [...arf.evidence, `Feedback-Type: ${arf.feedbackType}`] };
  }
  const autoReply = detectAutoReply(msg);
  if (autoReply) return { kind: 'auto-reply', message, autoReply, evidence: autoReply.evidence };
  return {
    kind: 'unknown',
    message,
    reason: 'no delivery status, feedback report, DMARC or TLS report, bounce or auto-reply signals found',
    evidence: [],
  };
}

/** Classifies each recipient of a DSN (exported for callers that parse DSNs themselves). */
export function classifyRecipients(dsn: DsnReport, opts: { ruleset: Ruleset; providers?: ProviderMap }): DsnReport<ClassifiedRecipient> {
  const one = <T extends Omit<DsnRecipient, 'address' | 'originalRecipient'>>(
    r: T,
  ): T & Omit<ClassifiedRecipient, 'address' | 'originalRecipient'> => {
    const provider = opts.providers && r.remoteMta ? providerOf(opts.providers, r.remoteMta) : undefined;
    const action: DsnProblemAction | undefined = r.action === 'failed' || r.action === 'delayed' ? r.action : undefined;
    // Every signal first: the remote's enhanced code, one written in the diagnostic, the DSN
    // Status; the most specific decides. The texts go from the remote's own words outwards.
    const enhanced = mostSpecificStatus(r.reply?.enhanced, findEnhancedCode(r.diagnostic ?? ''), r.status);
    const text = r.reply?.text ?? r.diagnostic ?? '';
    const context = [r.diagnostic, r.explanation].filter((t): t is string => !!t && t !== text);
    const classification = classify(opts.ruleset, {
      ...(r.reply ? { code: r.reply.code } : {}),
      ...(enhanced ? { enhanced } : {}),
      text,
      ...(context.length > 0 ? { context } : {}),
      ...(provider ? { provider } : {}),
      ...(action ? { action } : {}),
      ...(r.reply?.command ? { command: r.reply.command } : {}),
    });
    return { ...r, ...(provider ? { provider } : {}), classification };
  };
  const { unattributed, ...rest } = dsn;
  return { ...rest, recipients: dsn.recipients.map(one), ...(unattributed ? { unattributed: one(unattributed) } : {}) };
}

/** A report payload that is not wrapped in a message (HTTP uploads, files from a reporter's portal). */
function parseBarePayload(bytes: Buffer, filename = 'upload'): Feedback | null {
  let files: PayloadFile[];
  if (isGzip(bytes) || isZip(bytes)) {
    try {
      files = unpackPayload(bytes, filename);
    } catch (e) {
      return { kind: 'unknown', reason: `unreadable archive: ${(e as Error).message}`, evidence: [] };
    }
  } else {
    const head = bytes
      .subarray(0, 64)
      .toString('latin1')
      .replace(/^\uFEFF|^\xEF\xBB\xBF|^\xFF\xFE|^\xFE\xFF/, '')
      .trimStart();
    if (!head.startsWith('<') && !head.startsWith('{')) return null;
    files = [{ name: filename, bytes: new Uint8Array(bytes), container: 'plain' }];
  }
  const evidence = [`bare payload (${files.map((f) => f.container).join(', ')})`];
  const dmarc = parseDmarcAggregate(bytes, filename);
  if (dmarc.reports.length > 0) return { kind: 'dmarc-aggregate', reports: dmarc.reports, errors: dmarc.errors, evidence };
  const tls = parseTlsRpt(bytes, filename);
  if (tls.reports.length > 0) return { kind: 'tls-rpt', reports: tls.reports, errors: tls.errors, evidence };
  return {
    kind: 'unknown',
    reason: `not a DMARC aggregate or TLS-RPT report: ${[...dmarc.errors, ...tls.errors].map((e) => e.error).join('; ')}`,
    evidence,
  };
}

const TLSRPT_TYPE = /^application\/tlsrpt\+(json|gzip)$/;
const ARCHIVE_TYPE = /^(application\/(zip|x-zip|x-zip-compressed|gzip|x-gzip|x-gunzip|gzip-compressed|octet-stream|xml)|text\/xml)$/;

function reportAttachments(
  msg: MailMessage,
  reportType: string,
): Exclude<Feedback, { kind: 'dsn' | 'arf' | 'dmarc-failure' | 'auto-reply' | 'unknown' }> | null {
  const tlsParts = msg.parts.filter(
    (p) => TLSRPT_TYPE.test(p.contentType) || (reportType === 'tlsrpt' && /\.json(\.gz)?$/i.test(p.filename ?? '')),
  );
  // One unpacking budget for every attachment of the message (see `UnpackBudget`).
  const budget = unpackBudget();
  if (tlsParts.length > 0 || reportType === 'tlsrpt') {
    const all = { reports: [] as TlsReport[], errors: [] as ReportError[] };
    for (const p of tlsParts) {
      const r = parseTlsRpt(p.content, p.filename ?? 'report.json', budget);
      all.reports.push(...r.reports);
      all.errors.push(...r.errors);
    }
    if (all.reports.length > 0 || tlsParts.length > 0) {
      return { kind: 'tls-rpt', ...all, evidence: [`TLS-RPT parts: ${tlsParts.map(describePart).join(', ') || 'none'}`] };
    }
  }
  const dmarcParts = msg.parts.filter((p) => ARCHIVE_TYPE.test(p.contentType) || /\.(xml|zip|gz)$/i.test(p.filename ?? ''));
  const all = { reports: [] as DmarcAggregateReport[], errors: [] as ReportError[] };
  for (const p of dmarcParts) {
    const r = parseDmarcAggregate(p.content, p.filename ?? 'report.xml', budget);
    all.reports.push(...r.reports);
    all.errors.push(...r.errors);
  }
  if (all.reports.length > 0)
    return { kind: 'dmarc-aggregate', ...all, evidence: [`DMARC report parts: ${dmarcParts.map(describePart).join(', ')}`] };
  // A body that is itself the XML (some reporters put it inline).
  if (/<feedback[\s>]/i.test(msg.text) && /<report_metadata>/i.test(msg.text)) {
    const r = parseDmarcAggregate(msg.text.slice(msg.text.search(/<\?xml|<feedback/i)));
    if (r.reports.length > 0) return { kind: 'dmarc-aggregate', ...r, evidence: ['DMARC report XML in the body'] };
  }
  if (dmarcParts.length > 0 && /report.?domain|dmarc/i.test(msg.subject)) {
    return {
      kind: 'dmarc-aggregate',
      ...all,
      evidence: [`DMARC report subject with unreadable parts: ${dmarcParts.map(describePart).join(', ')}`],
    };
  }
  return null;
}

function describePart(p: MailPart): string {
  return `${p.contentType}${p.filename ? ` (${p.filename})` : ''}`;
}

function summarise(msg: MailMessage): FeedbackMessageInfo {
  const info: FeedbackMessageInfo = {
    from: msg.from,
    to: msg.to,
    subject: msg.subject,
    deliveredTo: fieldValues(msg.headers, 'delivered-to').map((v) => addressOf(v) ?? v),
    xOriginalTo: fieldValues(msg.headers, 'x-original-to').map((v) => addressOf(v) ?? v),
    references: msg.references,
  };
  if (msg.messageId) info.messageId = msg.messageId;
  if (msg.date) info.date = msg.date;
  if (msg.inReplyTo) info.inReplyTo = msg.inReplyTo;
  const rp = fieldValue(msg.headers, 'return-path');
  if (rp !== undefined) info.returnPath = rp.replace(/^\s*<|>\s*$/g, '');
  return info;
}
