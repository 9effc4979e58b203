/**
 * Which addresses the inbound MX accepts mail for, decided at RCPT so nothing else is ever
 * accepted (no open relay, RFC 5321 §3.9 / RFC 2505): VERP return paths under a registered sending
 * domain's bounce subdomain whose MAC verifies, the platform's report mailboxes, and postmaster at
 * any domain we receive for (RFC 5321 §4.5.1 requires it). Pure apart from the domain lookup.
 */
import { normaliseDomain } from '../core/index.js';
import { decodeVerp, type VerpKey } from '../identity/index.js';

/** The report mailboxes at `feedback.reportDomain` that DMARC rua, TLS-RPT rua and FBLs point at. */
export const REPORT_MAILBOXES = ['dmarc', 'tls-rpt', 'fbl'] as const;
export type ReportMailbox = (typeof REPORT_MAILBOXES)[number];

export type MailboxDecision =
  | { accept: true; mailbox: 'verp'; messageId: string; recipientId: string; domain: string }
  | { accept: true; mailbox: 'report'; name: ReportMailbox }
  | { accept: true; mailbox: 'postmaster'; domain: string }
  /** `unknown_mailbox`: a domain we receive for, but no such mailbox (or a forged/malformed VERP). */
  | { accept: false; reason: 'unknown_mailbox' | 'relay'; detail: string };

export interface MailboxPolicy {
  /** Domain of the report mailboxes (feedback.reportDomain, or server.hostname). */
  reportDomain: string;
  /** identity.bounceLabel. */
  bounceLabel: string;
  /** VERP keys, current first (identity deriveVerpKey). */
  verpKeys: readonly VerpKey[];
  /** The registered sending domain among these names, if any (names are a domain and its parents). */
  findRegisteredDomain(names: string[]): Promise<string | undefined>;
}

export async function decideMailbox(address: string, policy: MailboxPolicy): Promise<MailboxDecision> {
  const at = address.lastIndexOf('@');
  const local = at > 0 ? address.slice(0, at).toLowerCase() : '';
  const domain = at > 0 ? normaliseDomain(address.slice(at + 1)) : null;
  if (!local || !domain) return { accept: false, reason: 'relay', detail: 'not a mailbox address' };

  const reportDomain = normaliseDomain(policy.reportDomain) ?? policy.reportDomain.toLowerCase();
  if (domain === reportDomain) {
    if (local === 'postmaster') return { accept: true, mailbox: 'postmaster', domain };
    const name = REPORT_MAILBOXES.find((m) => m === local);
    if (name) return { accept: true, mailbox: 'report', name };
    return { accept: false, reason: 'unknown_mailbox', detail: `no mailbox ${local} at the report domain` };
  }

  const prefix = `${policy.bounceLabel.toLowerCase()}.`;
  if (!domain.startsWith(prefix)) return { accept: false, reason: 'relay', detail: `${domain} is not a domain this MX receives for` };
  const sending = domain.slice(prefix.length);
  const labels = sending.split('.');
  const names = labels.slice(0, -1).map((_, i) => labels.slice(i).join('.'));
  const registered = names.length ? await policy.findRegisteredDomain(names) : undefined;
  if (!registered) return { accept: false, reason: 'relay', detail: `${sending} is not a registered sending domain` };
  if (local === 'postmaster') return { accept: true, mailbox: 'postmaster', domain };
  const decoded = decodeVerp(`${local}@${domain}`, [...policy.verpKeys]);
  if (!decoded.ok) return { accept: false, reason: 'unknown_mailbox', detail: `VERP ${decoded.reason} for ${local}@${domain}` };
  return { accept: true, mailbox: 'verp', messageId: decoded.messageId, recipientId: decoded.recipientId, domain };
}
