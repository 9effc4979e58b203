import { dottedForm, formatIp, type IpAddress } from './ip-network.js';
import type { MacroString, MacroToken } from './spf-record.js';

/**
 * Macro expansion (RFC 7208 §7.3). Pure apart from `%{p}`, whose validated name needs DNS; the
 * caller passes it in as a lazy, memoised function so it is looked up only when a record uses it.
 */
export interface MacroValues {
  /** <sender>: local-part@domain (local-part already defaulted to "postmaster"). */
  sender: string;
  local: string;
  senderDomain: string;
  /** <domain> of the current check_host() call. */
  domain: string;
  ip: IpAddress;
  helo: string;
  /** `%{r}`: the checking host's name, "unknown" when not configured (§7.3). */
  receiver: string;
  /** `%{t}`: seconds since the epoch. */
  timestamp: number;
  validatedName: () => Promise<string>;
}

async function letterValue(token: Extract<MacroToken, { kind: 'macro' }>, v: MacroValues): Promise<string> {
  switch (token.letter) {
    case 's':
      return v.sender;
    case 'l':
      return v.local;
    case 'o':
      return v.senderDomain;
    case 'd':
      return v.domain;
    case 'i':
      return dottedForm(v.ip);
    case 'p':
      return v.validatedName();
    case 'h':
      return v.helo;
    case 'c':
      return formatIp(v.ip);
    case 'r':
      return v.receiver;
    case 't':
      return String(v.timestamp);
    case 'v':
      return v.ip.family === 4 ? 'in-addr' : 'ip6';
    default: {
      const never: never = token.letter;
      return never;
    }
  }
}

/**
 * §7.3 transformers: split on the delimiters (default "."), optionally reverse, keep the DIGIT
 * right-most parts (all when DIGIT exceeds the count), and rejoin with "." whatever the delimiters.
 */
export function transform(value: string, digits: number | undefined, reverse: boolean, delimiters: string): string {
  let parts = [''];
  for (const ch of value) {
    if (delimiters.includes(ch)) parts.push('');
    else parts[parts.length - 1] += ch;
  }
  if (reverse) parts.reverse();
  if (digits !== undefined && digits < parts.length) parts = parts.slice(parts.length - digits);
  return parts.join('.');
}

/** §7.3: upper-case macros are URL-escaped; everything outside RFC 3986 "unreserved" is %XX. */
export function urlEscape(value: string): string {
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    const ch = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-._~]/.test(ch) ? ch : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

export async function expandMacroString(ms: MacroString, v: MacroValues): Promise<string> {
  let out = '';
  for (const token of ms.tokens) {
    if (token.kind === 'literal') {
      out += token.text;
      continue;
    }
    const expanded = transform(await letterValue(token, v), token.digits, token.reverse, token.delimiters);
    out += token.escape ? urlEscape(expanded) : expanded;
  }
  return out;
}

/**
 * §7.3: "if the expanded domain name exceeds 253 characters …, the left side is truncated to fit,
 * by removing successive domain labels (and their following dots)". A trailing dot (absolute name)
 * is dropped first: it is not part of the presentation length we query.
 */
export function truncateDomain(name: string): string {
  let out = name.endsWith('.') ? name.slice(0, -1) : name;
  while (Buffer.byteLength(out) > 253) {
    const dot = out.indexOf('.');
    if (dot < 0) break;
    out = out.slice(dot + 1);
  }
  return out;
}
