/**
 * Delivery status notifications: RFC 3464 multipart/report DSNs, and the non-standard bounces real
 * servers send, read by the heuristics in bounce-text.ts. The result carries, per recipient, the
 * action, status and remote reply, plus what we need to link the bounce to our message (returned
 * original headers, Original-Envelope-Id, and the bounce's own To/Delivered-To: our VERP address).
 */
import { parseSmtpResponse, type SmtpResponse } from '../core/index.js';
import { bestReply, failureFromText, isDelayNotice, recipientsFromText, type TextRecipient } from './bounce-text.js';
import { type BounceVendor, bounceEvidence, bounceVendor } from './bounce-vendor.js';
import { findEnhancedCode, mostSpecificStatus, splitInlineContinuations } from './classifier.js';
import { addressOf, fieldValue, fieldValues, type HeaderField, parseFieldGroups, typedValue } from './header-fields.js';
import { type MailMessage, partText, readMessage } from './mail-message.js';
import { findOriginalMessage, type OriginalMessage } from './original-message.js';
import { parseSesNotification } from './ses-notification.js';

/** RFC 3464 §2.3.3. */
export type DsnAction = 'failed' | 'delayed' | 'delivered' | 'relayed' | 'expanded';

export interface DsnRecipient {
  /** Final-Recipient (or the address the text names), without `rfc822;`. */
  address: string;
  originalRecipient?: string;
  action: DsnAction;
  /** RFC 3463 status (`5.1.1`): the Status field, else the reply's enhanced code. */
  status?: string;
  /** The remote server's reply, when the report carries one. */
  reply?: SmtpResponse;
  /** Diagnostic text as reported (Diagnostic-Code without its type, or the explaining paragraph). */
  diagnostic?: string;
  /**
   * What the human-readable part says about this recipient, when it says more than the fields
   * (read by the classifier only when the reply and diagnostic give no specific answer).
   */
  explanation?: string;
  /** Diagnostic-Code type (`smtp`, `x-postfix`, …). */
  diagnosticType?: string;
  remoteMta?: string;
  lastAttemptDate?: string;
  willRetryUntil?: string;
  /** `delivery-status`: from the RFC 3464 part; `text`: from the human-readable text. */
  source: 'delivery-status' | 'text';
}

export interface DsnReport<R extends DsnRecipient = DsnRecipient> {
  /** `rfc3464` when a delivery-status part (or inline DSN fields) was read, else `heuristic`. */
  format: 'rfc3464' | 'heuristic';
  /** Which MTA or provider wrote it, from signatures (see bounce-vendor.ts); `generic` when unknown. */
  vendor: BounceVendor;
  reportingMta?: string;
  receivedFromMta?: string;
  /** RFC 3461 ENVID we passed at MAIL FROM, echoed back (RFC 3464 §2.2.1). */
  originalEnvelopeId?: string;
  arrivalDate?: string;
  recipients: R[];
  /**
   * A bounce that names no recipient address (GroupWise, some appliances): its failure, to be
   * attributed through the bounce address (VERP). Absent when recipients were found.
   */
  unattributed?: Omit<R, 'address' | 'originalRecipient'>;
  original: OriginalMessage;
  evidence: string[];
}

const DSN_PART = /^(message|text)\/(global-)?delivery-status$/;
const ACTIONS: readonly DsnAction[] = ['failed', 'delayed', 'delivered', 'relayed', 'expanded'];

/**
 * Reads a DSN or a heuristic bounce. Returns null when the message is not a bounce at all (no
 * delivery-status and no bounce signals), so callers can try other kinds.
 */
export function parseDsnMessage(msg: MailMessage): DsnReport | null {
  const ses = msg.parts.length === 0 ? parseSesNotification(msg) : null;
  if (ses) return ses;
  const evidence: string[] = [];
  const dsnPart = msg.parts.find((p) => DSN_PART.test(p.contentType));
  let groups: HeaderField[][] | undefined;
  if (dsnPart) {
    groups = parseFieldGroups(partText(dsnPart));
    evidence.push(`${dsnPart.contentType} part`);
    // An empty or unreadable delivery-status part (truncated, wrongly encoded) is no DSN fields.
    if (groups.length === 0) groups = undefined;
  } else {
    // Some MTAs (older Exchange, appliances) print the DSN fields inside the text.
    const at = msg.text.search(/^(Reporting-MTA|Final-Recipient|Original-Recipient)\s*:/im);
    if (at >= 0 && /^Final-Recipient\s*:/im.test(msg.text)) {
      groups = parseFieldGroups(msg.text.slice(at));
      if (groups.length > 0) evidence.push('delivery-status fields in the text');
      else groups = undefined;
    }
  }
  const signals = bounceEvidence(msg);
  if (!groups && signals.length === 0) return null;
  evidence.push(...signals);

  const vendor = bounceVendor(msg);
  const original = findOriginalMessage(msg);
  const exclude = [...msg.from, ...msg.to, ...(original.from ? [original.from] : []), ...envelopeAddresses(msg.headers)];
  const hinted = fieldValues(msg.headers, 'x-failed-recipients')
    .flatMap((v) => v.split(','))
    .map((s) => s.trim())
    .filter(Boolean);
  // A mailing-list manager's refusal is about the list address the original was sent to.
  if (vendor === 'fml' && hinted.length === 0) hinted.push(...original.to);
  const fromText = recipientsFromText(msg.text, { hinted, exclude });
  const delayed = isDelayNotice(msg.subject, msg.text);

  const report: DsnReport = {
    format: groups ? 'rfc3464' : 'heuristic',
    vendor,
    recipients: [],
    original,
    evidence,
  };
  let recipients: DsnRecipient[] = [];
  if (groups) {
    const first = groups[0] ?? [];
    const perMessage = first.some((f) => /^(reporting-mta|original-envelope-id|arrival-date|received-from-mta|dsn-gateway)$/i.test(f.name))
      ? first
      : [];
    setIf(report, 'reportingMta', typedValue(fieldValue(perMessage, 'reporting-mta'))?.text);
    setIf(report, 'receivedFromMta', typedValue(fieldValue(perMessage, 'received-from-mta'))?.text);
    setIf(report, 'originalEnvelopeId', fieldValue(perMessage, 'original-envelope-id'));
    setIf(report, 'arrivalDate', fieldValue(perMessage, 'arrival-date'));
    for (const g of groups) {
      const r = recipientFromGroup(g, delayed);
      if (r) recipients.push(r);
    }
  }
  if (recipients.length === 0) {
    recipients = fromText.map((t) => recipientFromText(t, delayed));
    if (groups && recipients.length > 0) report.format = 'heuristic';
  } else {
    // Fill a missing reply from the human-readable part (e.g. Status: 5.0.0 with no Diagnostic-Code).
    for (const r of recipients) {
      const t =
        fromText.find((x) => x.address.toLowerCase() === r.address.toLowerCase()) ??
        (recipients.length === 1 && fromText.length === 1 ? fromText[0] : undefined);
      if (r.reply) {
        if (t?.diagnostic && t.diagnostic !== r.diagnostic) r.explanation = t.diagnostic;
        continue;
      }
      if (t?.reply) {
        r.reply = t.reply;
        r.diagnostic ??= t.diagnostic;
        evidence.push(`reply for ${r.address} taken from the text`);
      } else if (t?.diagnostic && !r.diagnostic) r.diagnostic = t.diagnostic;
      else if (t?.diagnostic && t.diagnostic !== r.diagnostic) r.explanation = t.diagnostic;
    }
  }
  report.recipients = recipients;
  if (recipients.length === 0) {
    const failure = failureFromText(msg.text);
    if (!failure) return null;
    const status = failure.reply?.enhanced ?? failure.status;
    report.unattributed = {
      action: delayed ? 'delayed' : 'failed',
      source: 'text',
      ...(status ? { status } : {}),
      ...(failure.reply ? { reply: failure.reply } : {}),
      ...(failure.diagnostic ? { diagnostic: failure.diagnostic } : {}),
    };
    evidence.push('no recipient address in the bounce; attribute it by the bounce address (VERP)');
  }
  return report;
}

function recipientFromGroup(g: HeaderField[], delayedNotice: boolean): DsnRecipient | null {
  const address =
    addressOf(fieldValue(g, 'final-recipient')) ??
    addressOf(fieldValue(g, 'original-recipient')) ??
    addressOf(fieldValue(g, 'x-actual-recipient'));
  if (!address) return null;
  const status = /\b([245]\.\d{1,3}\.\d{1,3})\b/.exec(fieldValue(g, 'status') ?? '')?.[1];
  const actionRaw = (fieldValue(g, 'action') ?? '')
    .toLowerCase()
    .trim()
    .split(/[\s(;]/)[0] as DsnAction;
  const action: DsnAction = ACTIONS.includes(actionRaw)
    ? actionRaw
    : status?.startsWith('4') || delayedNotice
      ? 'delayed'
      : status?.startsWith('2')
        ? 'delivered'
        : 'failed';
  const r: DsnRecipient = { address, action, source: 'delivery-status' };
  setIf(r, 'originalRecipient', addressOf(fieldValue(g, 'original-recipient')));
  if (status) r.status = status;
  // `dns; mx.example.net. (2001:db8::1, the server for …)`: keep the host name only.
  const remoteMta = typedValue(fieldValue(g, 'remote-mta'))?.text.split(/[\s[(]/)[0];
  setIf(r, 'remoteMta', remoteMta?.replace(/\.$/, '').toLowerCase());
  setIf(r, 'lastAttemptDate', fieldValue(g, 'last-attempt-date'));
  setIf(r, 'willRetryUntil', fieldValue(g, 'will-retry-until'));
  const diag = typedValue(fieldValue(g, 'diagnostic-code'));
  if (diag?.text) {
    r.diagnostic = diag.text;
    if (diag.type) r.diagnosticType = diag.type;
    const reply = replyFromDiagnostic(diag.text);
    if (reply) r.reply = reply;
  }
  if (r.reply?.enhanced === undefined && r.reply && status) r.reply.enhanced = status;
  // A generic Status (5.0.0) beside a specific code in the diagnostic (5.1.1): report the latter.
  const specific = mostSpecificStatus(status, r.reply?.enhanced, findEnhancedCode(r.diagnostic ?? ''));
  if (specific && specific[0] === (status ?? specific)[0]) r.status = specific;
  return r;
}

function recipientFromText(t: TextRecipient, delayedNotice: boolean): DsnRecipient {
  const status = t.reply?.enhanced ?? t.status;
  const r: DsnRecipient = {
    address: t.address,
    action: delayedNotice ? 'delayed' : 'failed',
    source: 'text',
  };
  if (status) r.status = status;
  if (t.reply) r.reply = t.reply;
  if (t.diagnostic) r.diagnostic = t.diagnostic;
  if (t.remoteMta) r.remoteMta = t.remoteMta;
  return r;
}

/** A Diagnostic-Code text as an SMTP reply, when it is one (`550 5.1.1 …`, or `550-5.1.1 … 550 5.1.1 …`). */
function replyFromDiagnostic(text: string): SmtpResponse | undefined {
  const trimmed = text
    .replace(/^['"#]+/, '')
    .replace(/\s*\(in reply to [^)]*\)\s*/gi, ' ')
    .trim();
  // `host mx.example.org[192.0.2.1] said: 550 5.1.1 …` (Postfix's X-Postfix type): the reply inside.
  const reply = parseSmtpResponse(splitInlineContinuations(trimmed)) ?? bestReply(trimmed)?.response;
  if (!reply) return undefined;
  if (!reply.enhanced) {
    const enhanced = findEnhancedCode(reply.text);
    if (enhanced) reply.enhanced = enhanced;
  }
  const command = /\(in reply to (?:end of )?([A-Z]+(?: [A-Z]+)?) command\)/i.exec(text);
  if (command) reply.command = command[1]!.toUpperCase();
  return reply;
}

/** Addresses the bounce was delivered to: our return path, never a failed recipient. */
export function envelopeAddresses(headers: readonly HeaderField[]): string[] {
  return ['return-path', 'delivered-to', 'x-original-to', 'envelope-to', 'x-envelope-to']
    .flatMap((n) => fieldValues(headers, n))
    .map((v) => addressOf(v))
    .filter((a): a is string => a !== undefined);
}

function setIf<T extends object, K extends keyof T>(o: T, k: K, v: T[K] | undefined): void {
  if (v !== undefined && v !== '') o[k] = v;
}

/** `parseDsnMessage` over raw bytes. */
export async function parseDsn(raw: Buffer | string): Promise<DsnReport | null> {
  return parseDsnMessage(await readMessage(raw));
}
