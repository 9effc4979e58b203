import { createRequire } from 'node:module';

/**
 * What a list import says about one address, apart from DNS and the suppression list (which need
 * I/O and live in list-import.ts). Pure functions over the parsed address; the lists are data,
 * documented in docs/lists.md.
 */
export type FindingKind =
  | 'malformed'
  | 'duplicate'
  | 'role_account'
  | 'disposable_domain'
  | 'no_mx'
  | 'null_mx'
  | 'trap_pattern'
  | 'suppressed'
  | 'dns_unchecked';

export interface Finding {
  kind: FindingKind;
  /** error: the row is not added to the list; warning: it is added, flagged. */
  severity: 'error' | 'warning';
  message: string;
  /** Evidence: the suppression's reason and scope, the DNS answer, the matched pattern. */
  detail?: Record<string, unknown>;
}

/**
 * Role accounts: mailboxes of a function, not a person (RFC 2142 §3-§5 names most of them:
 * info, marketing, sales, support, abuse, noc, security, postmaster, hostmaster, usenet, news,
 * webmaster, www, uucp, ftp), plus the ones ESPs commonly refuse for bulk mail. Mail to them
 * reaches several people or none, and complaints from them weigh heavily.
 */
export const roleAccounts: ReadonlySet<string> = new Set([
  'abuse',
  'admin',
  'administrator',
  'billing',
  'compliance',
  'contact',
  'devnull',
  'dns',
  'ftp',
  'help',
  'hostmaster',
  'info',
  'inquiries',
  'it',
  'jobs',
  'mail',
  'mailer-daemon',
  'marketing',
  'media',
  'news',
  'noc',
  'no-reply',
  'noreply',
  'office',
  'postmaster',
  'privacy',
  'remove',
  'root',
  'sales',
  'security',
  'spam',
  'subscribe',
  'support',
  'sysadmin',
  'team',
  'tech',
  'unsubscribe',
  'usenet',
  'uucp',
  'webmaster',
  'www',
]);

/**
 * Trap-like patterns (docs/lists.md): addresses that real people rarely have and list buyers,
 * scrapers and typo-trap operators often do. A finding, not proof.
 * - a local part naming a trap (`spamtrap`, `honeypot`, `blackhole`, `trap`);
 * - a typo of a large mailbox provider's domain (`gmial.com`, `hotmial.com`, …): abandoned typo
 *   domains are registered as recycled traps;
 * - a synthetic local part: 20 or more hexadecimal characters, as generators and scrapers produce.
 */
const TRAP_LOCAL = /(^|[._+-])(spam-?trap|honey-?pot|black-?hole|trap)([._+-]|$)/i;
const SYNTHETIC_LOCAL = /^[0-9a-f]{20,}$/i;
export const typoDomains: ReadonlySet<string> = new Set([
  'gmial.com',
  'gmal.com',
  'gmaill.com',
  'gnail.com',
  'gamil.com',
  'gmail.co',
  'gmail.con',
  'hotmial.com',
  'hotmal.com',
  'hotmail.co',
  'hotmail.con',
  'yaho.com',
  'yahooo.com',
  'yahoo.co',
  'yahoo.con',
  'outlok.com',
  'outloo.com',
  'outlook.co',
  'iclod.com',
  'icloud.co',
  'aol.co',
]);

export function trapPattern(local: string, domain: string): string | undefined {
  if (TRAP_LOCAL.test(local)) return 'trap keyword in the local part';
  if (typoDomains.has(domain)) return `typo of a large provider's domain (${domain})`;
  if (SYNTHETIC_LOCAL.test(local)) return 'synthetic local part (20+ hexadecimal characters)';
  return undefined;
}

/** A role account's name: the local part before any +tag, lower-cased. */
export function roleOf(local: string): string | undefined {
  const base = local.toLowerCase().split('+')[0]!;
  return roleAccounts.has(base) ? base : undefined;
}

/** The disposable-domain check over the `disposable-email-domains` package (loaded on first use). */
export function createDisposableCheck(): (domain: string) => boolean {
  let exact: Set<string> | undefined;
  let wildcard: Set<string> | undefined;
  return (domain) => {
    if (!exact || !wildcard) {
      const require = createRequire(import.meta.url);
      exact = new Set(require('disposable-email-domains') as string[]);
      wildcard = new Set(require('disposable-email-domains/wildcard.json') as string[]);
    }
    if (exact.has(domain)) return true;
    // wildcard.json lists domains whose every subdomain is disposable too.
    for (let d = domain; d.includes('.'); d = d.slice(d.indexOf('.') + 1)) if (wildcard.has(d)) return true;
    return false;
  };
}
