import type { Stream } from './states.js';

/**
 * The vocabulary of suppression, shared by accept (which enforces it inside its commit) and the
 * feedback service (which maintains it). An entry blocks one address at one scope:
 *
 * - `global`: the operator's list; no tenant may send to the address.
 * - `tenant`: the tenant may not send to the address from any domain or stream.
 * - `identity`: the tenant may not send to the address from one sending domain (and its
 *   subdomains), from one stream, or from one stream of one domain (what a one-click unsubscribe
 *   records: RFC 8058 asks to stop "this kind of mail from this sender", not all mail).
 */
export const suppressionScopes = ['global', 'tenant', 'identity'] as const;
export type SuppressionScope = (typeof suppressionScopes)[number];

export const suppressionReasons = ['hard_bounce', 'complaint', 'unsubscribe', 'manual', 'import'] as const;
export type SuppressionReason = (typeof suppressionReasons)[number];

export const isSuppressionScope = (s: string): s is SuppressionScope => (suppressionScopes as readonly string[]).includes(s);
export const isSuppressionReason = (s: string): s is SuppressionReason => (suppressionReasons as readonly string[]).includes(s);

/** Where an entry applies: `domain` and `stream` are set only for scope identity (null otherwise). */
export interface SuppressionTarget {
  scope: SuppressionScope;
  domain: string | null;
  stream: Stream | null;
}

/** Does an entry stop a message from `fromDomain` on `stream`? */
export function suppressionApplies(entry: SuppressionTarget, message: { fromDomain: string; stream: Stream }): boolean {
  switch (entry.scope) {
    case 'global':
    case 'tenant':
      return true;
    case 'identity': {
      const from = message.fromDomain.toLowerCase();
      const domainOk = entry.domain === null || from === entry.domain || from.endsWith(`.${entry.domain}`);
      const streamOk = entry.stream === null || entry.stream === message.stream;
      return domainOk && streamOk;
    }
    default: {
      const never: never = entry.scope;
      return never;
    }
  }
}

/** The broadest scope explains a refusal best, so it is the one reported when several apply. */
export const scopeRank: Record<SuppressionScope, number> = { global: 0, tenant: 1, identity: 2 };
