import type { SpineEvent } from '../core/index.js';

/**
 * What one spine event adds to the ledger. Recipient events do not carry the message's stream or
 * identity, and a complaint does not name the MX; those come from context the ledger keeps from
 * earlier events (`message.accepted`, the recipient's last attempt), so a replay of the spine in
 * order rebuilds the same context and the same counts.
 */

/** A routable identity: (sending domain, DKIM selector, egress pool, return-path domain). */
export interface Identity {
  domain: string;
  selector: string;
  pool: string;
  returnPath: string;
}

export interface LedgerKeyParts extends Identity {
  tenantId: string;
  stream: string;
  provider: string;
}

/** Context kept per message (`m:<id>`) and per recipient (`r:<id>`). */
export type Context = Record<string, string>;

export interface Contribution {
  parts: LedgerKeyParts;
  metrics: string[];
  /** Context to remember for the recipient after this event. */
  recipientContext?: Context;
}

export const keyOf = (p: LedgerKeyParts): string =>
  [p.tenantId, p.stream, p.domain, p.selector, p.pool, p.returnPath, p.provider].join('|');

const str = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : undefined);
const domainOfAddress = (a: string | undefined) => (a?.includes('@') ? a.slice(a.lastIndexOf('@') + 1).toLowerCase() : undefined);

/** The context `message.accepted` leaves for the message's later events. */
export function messageContext(e: SpineEvent): Context | undefined {
  if (e.type !== 'message.accepted') return undefined;
  const d = e.data;
  const identity = (d.identity ?? {}) as { return_path_domain?: unknown };
  const domain = domainOfAddress(str(d.from)) ?? 'unknown';
  return {
    stream: str(d.stream) ?? 'unknown',
    domain,
    returnPath: str(identity.return_path_domain) ?? domain,
    sandbox: d.sandbox === true ? '1' : '0',
  };
}

/** `rsa-sha256 d=example.com s=pw2026` → the selector signing for the sending domain (or the first). */
function selectorOf(dkim: unknown, domain: string): string | undefined {
  if (!Array.isArray(dkim)) return undefined;
  const sigs = dkim
    .filter((s): s is string => typeof s === 'string')
    .map((s) => ({ d: /\bd=([^\s;]+)/.exec(s)?.[1]?.toLowerCase(), s: /\bs=([^\s;]+)/.exec(s)?.[1] }));
  const own = sigs.find((x) => x.d === domain && x.s) ?? sigs.find((x) => x.s);
  return own?.s;
}

const BLOCK = /_block$/;

function metricsOf(e: SpineEvent): { metrics: string[]; attempt: boolean } | undefined {
  const d = e.data;
  const category = str(d.category);
  const blocks = category && BLOCK.test(category) ? ['blocked', `block:${category}`] : [];
  const attempted = typeof d.code === 'number' || typeof d.ip === 'string';
  switch (e.type) {
    case 'recipient.delivered':
      if (d.sandbox === true) return undefined;
      return { metrics: ['attempts', 'delivered'], attempt: true };
    case 'recipient.deferred':
      // Not an attempt at the provider: our own pause or rate, a local fault, a DNS failure.
      if (d.local_throttle || d.local_error || !attempted) return undefined;
      return { metrics: ['attempts', 'deferred', ...(category === 'throttling' ? ['throttled'] : []), ...blocks], attempt: true };
    case 'recipient.bounced': {
      const sync = d.async === false;
      return {
        metrics: [...(sync ? ['attempts'] : []), 'bounced', ...(d.hard === true ? ['hard_bounces'] : []), ...blocks],
        attempt: sync,
      };
    }
    case 'recipient.expired':
      return { metrics: ['expired'], attempt: false };
    case 'recipient.complained':
      return { metrics: ['complaints'], attempt: false };
    case 'recipient.unsubscribed':
      return { metrics: ['unsubscribes'], attempt: false };
    case 'recipient.opened':
      return d.machine === true ? undefined : { metrics: ['opens'], attempt: false };
    case 'recipient.clicked':
      return d.machine === true ? undefined : { metrics: ['clicks'], attempt: false };
    default:
      return undefined;
  }
}

/**
 * The ledger key and metrics of a recipient event, or undefined when it counts for nothing.
 * `provider` maps an MX host or an address to a provider key.
 */
export function contributionOf(
  e: SpineEvent,
  ctx: { message: Context | undefined; recipient: Context | undefined },
  provider: (hostOrAddress: string) => string | undefined,
): Contribution | undefined {
  const m = metricsOf(e);
  if (!m) return undefined;
  const msg = ctx.message;
  if (msg?.sandbox === '1') return undefined;
  const rc = ctx.recipient ?? {};
  const d = e.data;
  const domain = msg?.domain ?? 'unknown';
  const host = str(d.mx) ?? str(d.remote_mta) ?? str(d.site);
  const email = str(d.email);
  const parts: LedgerKeyParts = {
    tenantId: e.tenantId,
    stream: msg?.stream ?? 'unknown',
    domain,
    returnPath: msg?.returnPath ?? domain,
    selector: selectorOf(d.dkim, domain) ?? rc.selector ?? 'none',
    pool: str(d.pool) ?? rc.pool ?? 'default',
    provider: (host && provider(host)) ?? rc.provider ?? (email && provider(email)) ?? 'other',
  };
  const out: Contribution = { parts, metrics: m.metrics };
  if (m.attempt) out.recipientContext = { provider: parts.provider, pool: parts.pool, selector: parts.selector };
  return out;
}
