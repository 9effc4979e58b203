/**
 * Amazon SES bounce notifications delivered as email (the SNS "email" and "email-json" protocols):
 * a JSON document, not an RFC 3464 report. Read from AWS's public description of the notification
 * contents ("Amazon SNS notification contents for Amazon SES": `notificationType`, `bounce` with
 * `bounceType`, `bounceSubType`, `bouncedRecipients[]`, and `mail` with the original's headers).
 * Every field is optional here: a notification missing one still yields what it has.
 */
import { parseSmtpResponse } from '../core/index.js';
import { findEnhancedCode, splitInlineContinuations } from './classifier.js';
import type { DsnRecipient, DsnReport } from './dsn.js';
import type { HeaderField } from './header-fields.js';
import type { MailMessage } from './mail-message.js';
import { describeOriginal } from './original-message.js';

/** What SES's bounce sub-types say, as text the classifier reads when the diagnostic says less. */
const SUBTYPE_TEXT: Record<string, string> = {
  suppressed: 'the address is on the suppression list',
  onaccountsuppressionlist: 'the address is on the suppression list',
  noemail: 'no such mailbox',
  mailboxfull: 'mailbox full',
  messagetoolarge: 'message too large',
  contentrejected: 'message content rejected',
  attachmentrejected: 'attachment rejected',
};

type Json = Record<string, unknown>;
const obj = (v: unknown): Json | undefined => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : undefined);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** The notification's JSON, unwrapped from an SNS envelope when it came as one; null when not SES. */
function notification(text: string): Json | null {
  const start = text.indexOf('{');
  if (start < 0 || !/"notificationType"|"eventType"/.test(text)) return null;
  let doc: Json | undefined;
  try {
    doc = obj(JSON.parse(text.slice(start, text.lastIndexOf('}') + 1)));
  } catch {
    return null;
  }
  if (doc && str(doc.Type) === 'Notification' && typeof doc.Message === 'string') {
    try {
      doc = obj(JSON.parse(doc.Message));
    } catch {
      return null;
    }
  }
  return doc && /^bounce$/i.test(str(doc.notificationType) ?? str(doc.eventType) ?? '') ? doc : null;
}

export function parseSesNotification(msg: MailMessage): DsnReport | null {
  const doc = notification(msg.text.trim());
  if (!doc) return null;
  const bounce = obj(doc.bounce) ?? {};
  const mail = obj(doc.mail) ?? {};
  const subtype = (str(bounce.bounceSubType) ?? '').toLowerCase();
  const recipients: DsnRecipient[] = [];
  for (const raw of list(bounce.bouncedRecipients)) {
    const r = obj(raw);
    const address = str(r?.emailAddress)?.replace(/^.*<|>.*$/g, '');
    if (!r || !address) continue;
    const out: DsnRecipient = { address, action: str(r.action) === 'delayed' ? 'delayed' : 'failed', source: 'delivery-status' };
    const status = /\b([245]\.\d{1,3}\.\d{1,3})\b/.exec(str(r.status) ?? '')?.[1];
    if (status) out.status = status;
    const diagnostic = str(r.diagnosticCode)?.replace(/^\s*smtp\s*;\s*/i, '');
    if (diagnostic) {
      out.diagnostic = diagnostic;
      out.diagnosticType = 'smtp';
      const reply = parseSmtpResponse(splitInlineContinuations(diagnostic));
      if (reply) {
        reply.enhanced ??= findEnhancedCode(reply.text) ?? status;
        out.reply = reply;
      }
    }
    if (SUBTYPE_TEXT[subtype]) out.explanation = SUBTYPE_TEXT[subtype];
    recipients.push(out);
  }
  const headers: HeaderField[] = list(mail.headers).flatMap((h) => {
    const name = str(obj(h)?.name);
    const value = obj(h)?.value;
    return name && typeof value === 'string' ? [{ name, value }] : [];
  });
  const common = obj(mail.commonHeaders);
  if (!headers.some((h) => /^message-id$/i.test(h.name)) && str(common?.messageId))
    headers.push({ name: 'Message-ID', value: str(common?.messageId)! });
  const report: DsnReport = {
    format: 'heuristic',
    vendor: 'amazon-ses',
    recipients,
    original: describeOriginal(headers.length > 0 ? 'notification' : 'none', headers),
    evidence: [`Amazon SES ${str(bounce.bounceType) ?? ''} bounce notification (${subtype || 'no sub-type'})`],
  };
  const mta = str(bounce.reportingMTA)?.replace(/^\s*dns\s*;\s*/i, '');
  if (mta) report.reportingMta = mta;
  return report;
}
