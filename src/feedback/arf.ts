/**
 * Abuse Reporting Format complaints (RFC 5965) and, as the same format with Feedback-Type:
 * auth-failure, DMARC/authentication failure reports (RFC 6591, RFC 7489 §7.3).
 */
import { addressOf, fieldValue, fieldValues, type HeaderField, parseFields } from './header-fields.js';
import { type MailMessage, partText, readMessage } from './mail-message.js';
import { findOriginalMessage, type OriginalMessage, returnedMessageOffset } from './original-message.js';

/** RFC 5965 §7.3 registry plus RFC 6591's auth-failure; anything else is kept as written. */
export type FeedbackType = 'abuse' | 'fraud' | 'virus' | 'other' | 'not-spam' | 'opt-out' | 'auth-failure' | (string & {});

export interface ArfReport {
  feedbackType: FeedbackType;
  userAgent?: string;
  version?: string;
  originalMailFrom?: string;
  /** Complainant addresses (often redacted by the reporter). */
  originalRcptTo: string[];
  originalEnvelopeId?: string;
  arrivalDate?: string;
  reportingMta?: string;
  sourceIp?: string;
  incidents?: number;
  reportedDomains: string[];
  reportedUris: string[];
  authenticationResults: string[];
  /** Every field of the feedback-report part, in order. */
  fields: HeaderField[];
  original: OriginalMessage;
  /** RFC 6591 fields, present for Feedback-Type: auth-failure. */
  authFailure?: AuthFailureDetails;
  evidence: string[];
}

export interface AuthFailureDetails {
  /** `dmarc`, `spf`, `signature`, `bodyhash`, `revoked`, `adsp` (RFC 6591 §3.2.2). */
  authFailure: string[];
  deliveryResult?: string;
  dkimDomain?: string;
  dkimIdentity?: string;
  dkimSelector?: string;
  spfDns?: string;
  /** RFC 7489 §7.3: which identifiers aligned (`none`, `spf`, `dkim`, `dkim/spf`). */
  identityAlignment?: string;
}

const REPORT_PART = /^message\/feedback-report$/;
const REGISTERED_TYPES = new Set(['abuse', 'fraud', 'virus', 'other', 'not-spam', 'opt-out', 'auth-failure']);
const DMARC_FAILURE_TITLE = /\b(DMARC|authentication)\b.{0,24}\b(failure|forensic)\b.{0,12}\breport\b/i;

/**
 * A DMARC failure report sent as plain text, without the RFC 6591 feedback-report part (some
 * receivers write the fields into the body): read as an auth-failure report. It needs a title
 * that says so (subject or first lines) and at least one of the report's own fields.
 */
export function parseDmarcFailureText(msg: MailMessage): ArfReport | null {
  if (!DMARC_FAILURE_TITLE.test(`${msg.subject}\n${msg.text.slice(0, 600)}`)) return null;
  const report = msg.text.slice(0, returnedMessageOffset(msg.text));
  const fields = parseFields(report).filter((f) => /^[A-Z][\w-]*$/.test(f.name));
  const known = ['reported-domain', 'auth-failure', 'source-ip', 'authentication-results', 'delivery-result', 'identity-alignment'];
  if (!fields.some((f) => known.includes(f.name.toLowerCase())) && !/\bdmarc=fail\b/i.test(report)) return null;
  const withType: HeaderField[] = [{ name: 'Feedback-Type', value: 'auth-failure' }, ...fields];
  const arf = readReport(msg, withType, 'auth-failure', ['DMARC failure report written as plain text']);
  if (arf.authFailure && arf.authFailure.authFailure.length === 0) arf.authFailure.authFailure = ['dmarc'];
  return arf;
}

/** Reads an ARF report; null when the message carries no feedback report. */
export function parseArfMessage(msg: MailMessage): ArfReport | null {
  const evidence: string[] = [];
  const part = msg.parts.find((p) => REPORT_PART.test(p.contentType));
  let fields: HeaderField[];
  if (part) {
    fields = parseFields(partText(part));
    evidence.push('message/feedback-report part');
  } else {
    // A few reporters flatten the report into the body; accept it only with the required fields.
    const at = msg.text.search(/^Feedback-Type\s*:/im);
    if (at < 0) return null;
    fields = parseFields(msg.text.slice(at).split(/\r?\n\s*\r?\n/)[0] ?? '');
    // Without the part, the fields must look like a report: its required fields, or a registered
    // Feedback-Type (RFC 5965 §7.3, RFC 6591) rather than a sentence that happens to start so.
    const type = (fieldValue(fields, 'feedback-type') ?? '').trim().toLowerCase();
    if (!fieldValue(fields, 'user-agent') && !fieldValue(fields, 'version') && !REGISTERED_TYPES.has(type)) return null;
    evidence.push('feedback-report fields in the text');
  }
  const feedbackType = (fieldValue(fields, 'feedback-type') ?? '').trim().toLowerCase();
  if (!feedbackType) return null;
  return readReport(msg, fields, feedbackType, evidence);
}

function readReport(msg: MailMessage, fields: HeaderField[], feedbackType: string, evidence: string[]): ArfReport {
  const report: ArfReport = {
    feedbackType,
    originalRcptTo: fieldValues(fields, 'original-rcpt-to').map((v) => addressOf(v) ?? v),
    reportedDomains: fieldValues(fields, 'reported-domain'),
    reportedUris: fieldValues(fields, 'reported-uri'),
    authenticationResults: fieldValues(fields, 'authentication-results'),
    fields,
    original: findOriginalMessage(msg),
    evidence,
  };
  const set = <K extends keyof ArfReport>(k: K, v: ArfReport[K] | undefined) => {
    if (v !== undefined && v !== '') report[k] = v;
  };
  set('userAgent', fieldValue(fields, 'user-agent'));
  set('version', fieldValue(fields, 'version'));
  set('originalMailFrom', addressOf(fieldValue(fields, 'original-mail-from')) ?? fieldValue(fields, 'original-mail-from'));
  set('originalEnvelopeId', fieldValue(fields, 'original-envelope-id'));
  set('arrivalDate', fieldValue(fields, 'arrival-date') ?? fieldValue(fields, 'received-date'));
  set('reportingMta', fieldValue(fields, 'reporting-mta')?.replace(/^\s*dns\s*;\s*/i, ''));
  set('sourceIp', fieldValue(fields, 'source-ip')?.replace(/^\[|\]$/g, ''));
  const incidents = Number(fieldValue(fields, 'incidents'));
  if (Number.isInteger(incidents) && incidents > 0) report.incidents = incidents;
  if (feedbackType === 'auth-failure') report.authFailure = authFailureDetails(fields);
  return report;
}

function authFailureDetails(fields: HeaderField[]): AuthFailureDetails {
  const d: AuthFailureDetails = {
    authFailure: fieldValues(fields, 'auth-failure')
      .flatMap((v) => v.split(/[\s,]+/))
      .map((s) => s.toLowerCase())
      .filter(Boolean),
  };
  const pairs: [keyof AuthFailureDetails, string][] = [
    ['deliveryResult', 'delivery-result'],
    ['dkimDomain', 'dkim-domain'],
    ['dkimIdentity', 'dkim-identity'],
    ['dkimSelector', 'dkim-selector'],
    ['spfDns', 'spf-dns'],
    ['identityAlignment', 'identity-alignment'],
  ];
  for (const [key, name] of pairs) {
    const v = fieldValue(fields, name);
    if (v) (d as unknown as Record<string, string>)[key] = v;
  }
  return d;
}

/** `parseArfMessage` over raw bytes. */
export async function parseArf(raw: Buffer | string): Promise<ArfReport | null> {
  return parseArfMessage(await readMessage(raw));
}
