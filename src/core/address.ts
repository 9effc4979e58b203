import { domainToASCII } from 'node:url';

/**
 * Mailbox parsing for the edges. We accept what people send (`a@b`, `Name <a@b>`, `"Last, First" <a@b>`)
 * and normalise the domain to lower-case A-labels so suppression, routing and alignment compare like
 * with like. Local parts are kept verbatim (RFC 5321 §2.4: the local part is case-sensitive); non-ASCII
 * local parts are allowed and mark the message as needing SMTPUTF8 (RFC 6531).
 */
export interface Mailbox {
  /** local@domain with the domain in lower-case ASCII (punycode). */
  address: string;
  local: string;
  domain: string;
  name?: string;
  /** True when the local part is not ASCII (needs SMTPUTF8 on the wire). */
  utf8: boolean;
}

export type AddressProblem =
  | 'empty'
  | 'missing_at'
  | 'local_too_long'
  | 'local_invalid'
  | 'domain_invalid'
  | 'domain_too_long'
  | 'address_too_long';

const problemText: Record<AddressProblem, string> = {
  empty: 'is empty',
  missing_at: 'must contain exactly one @ between a local part and a domain',
  local_too_long: 'has a local part longer than 64 octets (RFC 5321 §4.5.3.1.1)',
  local_invalid: 'has an invalid local part',
  domain_invalid: 'has an invalid domain',
  domain_too_long: 'has a domain longer than 253 characters',
  address_too_long: 'is longer than 254 octets (RFC 5321 §4.5.3.1.3)',
};

export function describeAddressProblem(p: AddressProblem): string {
  return problemText[p];
}

// Dot-atom per RFC 5322 §3.2.3 plus any non-ASCII (RFC 6532); quoted local parts are allowed too.
const DOT_ATOM = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~\u0080-\uFFFF-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~\u0080-\uFFFF-]+)*$/;
const QUOTED = /^"([\x20\x21\x23-\x5b\x5d-\x7e\u0080-\uFFFF]|\\[\x20-\x7e])*"$/;
const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
/**
 * Lower-case letters, digits and hyphens in two or more labels, the last beginning with a letter:
 * domainToASCII returns these unchanged (it maps other characters, decodes `xn--` labels and reads
 * number-like hosts as IPv4, none of which applies), so they skip it. Most addresses are like this,
 * and the call was ~20 µs per message across accept and delivery in CPU profiles.
 */
const PLAIN_HOST = /^(?:[a-z0-9-]+\.)+[a-z][a-z0-9-]*$/;
export const isPlainHost = (lower: string): boolean => PLAIN_HOST.test(lower) && !lower.includes('xn--');

export function normaliseDomain(input: string): string | null {
  const raw = input.trim().replace(/\.$/, '');
  if (!raw || raw.length > 253) return null;
  // domainToASCII cuts at URL delimiters ('example.com/evil' → 'example.com'); refuse them first.
  if (/[\x00-\x2c/:;<=>?@[\\\]^_`{|}~\s]/.test(raw)) return null;
  const lower = raw.toLowerCase();
  const ascii = isPlainHost(lower) ? lower : domainToASCII(lower);
  if (!ascii || ascii.length > 253) return null;
  const labels = ascii.split('.');
  if (labels.length < 2) return null;
  if (!labels.every((l) => LABEL.test(l))) return null;
  if (/^[0-9]+$/.test(labels[labels.length - 1]!)) return null; // an IP literal is not a domain here
  return ascii;
}

export function parseAddress(input: string): { ok: true; mailbox: Mailbox } | { ok: false; problem: AddressProblem } {
  const s = input.trim();
  if (!s) return { ok: false, problem: 'empty' };
  const at = s.lastIndexOf('@');
  if (at <= 0 || at === s.length - 1) return { ok: false, problem: 'missing_at' };
  const local = s.slice(0, at);
  const domainPart = s.slice(at + 1);
  if (Buffer.byteLength(local) > 64) return { ok: false, problem: 'local_too_long' };
  if (!DOT_ATOM.test(local) && !QUOTED.test(local)) return { ok: false, problem: 'local_invalid' };
  if (domainPart.length > 253) return { ok: false, problem: 'domain_too_long' };
  const domain = normaliseDomain(domainPart);
  if (!domain) return { ok: false, problem: 'domain_invalid' };
  const address = `${local}@${domain}`;
  if (Buffer.byteLength(address) > 254) return { ok: false, problem: 'address_too_long' };
  // eslint-disable-next-line no-control-regex
  const utf8 = /[^\x00-\x7f]/.test(local);
  return { ok: true, mailbox: { address, local, domain, utf8 } };
}

/** Parses `addr`, `Name <addr>` or `"Quoted, Name" <addr>`. */
export function parseMailbox(input: string): { ok: true; mailbox: Mailbox } | { ok: false; problem: AddressProblem } {
  const s = input.trim();
  const m = /^(.*?)\s*<([^<>]+)>$/.exec(s);
  if (!m) return parseAddress(s);
  const parsed = parseAddress(m[2]!);
  if (!parsed.ok) return parsed;
  let name = m[1]!.trim();
  if (name.startsWith('"') && name.endsWith('"') && name.length >= 2) name = name.slice(1, -1).replace(/\\(.)/g, '$1');
  return { ok: true, mailbox: name ? { ...parsed.mailbox, name } : parsed.mailbox };
}

/** Key used for suppression and de-duplication: domain is already normalised; local part lower-cased
 * because, although case-sensitive by the RFC, no real mailbox provider treats it so. */
export function addressKey(address: string): string {
  return address.toLowerCase();
}

export function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1).toLowerCase();
}
