/**
 * From a recipient domain to the hosts to try, in order (RFC 5321 §5.1), as a value the delivery
 * router can act on: hosts to try, a permanent "no mail here" (Null MX, NXDOMAIN, no route), or a
 * temporary failure to defer on.
 *
 * The host set also gets a site name: every domain served by the same MX hosts shares one, so the
 * connection and rate budget of a provider is shared by all its customer domains (KumoMTA's site name).
 */
import { assertNever } from '../core/index.js';
import { normaliseName } from './cache.js';
import type { DnsResult, Resolver } from './resolver.js';

export interface MxHost {
  name: string;
  priority: number;
  /** A records first, then AAAA. */
  addresses: string[];
}

/** An MX target that was left out of the route, and why. */
export interface SkippedMxHost {
  name: string;
  reason: string;
}

export type MxRoute =
  | { kind: 'hosts'; hosts: MxHost[]; site: string; implicit: boolean; skipped: SkippedMxHost[] }
  | { kind: 'null-mx' }
  | { kind: 'nxdomain' }
  | { kind: 'no-route'; reason: string }
  | { kind: 'temporary'; reason: string };

export interface MxRouteOptions {
  /** Orders hosts of equal preference; injected so tests are deterministic. */
  random?: () => number;
}

/** A stable name for a host set: its sorted, unique host names joined with ','. */
export function siteName(hosts: ReadonlyArray<{ name: string }>): string {
  return [...new Set(hosts.map((h) => normaliseName(h.name)))].sort().join(',');
}

export async function resolveMxRoute(resolver: Resolver, domain: string, options: MxRouteOptions = {}): Promise<MxRoute> {
  const random = options.random ?? Math.random;
  const name = normaliseName(domain);
  const mx = await resolver.lookup(name, 'MX');
  switch (mx.kind) {
    case 'nxdomain':
      return { kind: 'nxdomain' };
    case 'error':
      return { kind: 'temporary', reason: `MX lookup for ${name} failed: ${mx.failure} (${mx.message})` };
    case 'nodata':
      return implicitRoute(resolver, name);
    case 'answer':
      break;
    default:
      return assertNever(mx, 'DNS result');
  }

  // RFC 7505 §3: a Null MX is a single MX whose exchange is the root. A "." mixed with real hosts breaks
  // the RFC's "MUST NOT advertise any other MX"; we then ignore the "." and use the real hosts.
  const isRoot = (exchange: string) => exchange === '.' || exchange === '';
  if (mx.records.length === 1 && isRoot(mx.records[0]?.exchange ?? '')) return { kind: 'null-mx' };

  const skipped: SkippedMxHost[] = [];
  const byName = new Map<string, number>();
  for (const record of mx.records) {
    if (isRoot(record.exchange)) {
      skipped.push({ name: '.', reason: 'Null MX mixed with other MX records (RFC 7505 §3)' });
      continue;
    }
    const host = normaliseName(record.exchange);
    const seen = byName.get(host);
    if (seen === undefined || record.priority < seen) byName.set(host, record.priority);
  }
  const ordered = orderByPreference(
    [...byName].map(([host, priority]) => ({ name: host, priority })),
    random,
  );

  const resolved = await Promise.all(ordered.map((h) => addressesOf(resolver, h.name)));
  const hosts: MxHost[] = [];
  let temporary = false;
  ordered.forEach((h, i) => {
    const r = resolved[i];
    if (r === undefined) return;
    if (r.addresses.length > 0) hosts.push({ ...h, addresses: r.addresses });
    else {
      skipped.push({ name: h.name, reason: r.reason });
      temporary ||= r.temporary;
    }
  });

  if (hosts.length > 0) return { kind: 'hosts', hosts, site: siteName(hosts), implicit: false, skipped };
  const reasons = skipped.map((s) => `${s.name}: ${s.reason}`).join('; ');
  // A target that may resolve later (SERVFAIL, timeout) makes the whole route temporary.
  return temporary
    ? { kind: 'temporary', reason: `no MX host of ${name} resolved: ${reasons}` }
    : { kind: 'no-route', reason: `no MX host of ${name} has an address: ${reasons}` };
}

/** RFC 5321 §5.1: with no MX records, the domain itself is the MX, at preference 0. */
async function implicitRoute(resolver: Resolver, name: string): Promise<MxRoute> {
  const r = await addressesOf(resolver, name);
  if (r.addresses.length > 0) {
    const hosts = [{ name, priority: 0, addresses: r.addresses }];
    return { kind: 'hosts', hosts, site: siteName(hosts), implicit: true, skipped: [] };
  }
  if (r.temporary) return { kind: 'temporary', reason: `no MX for ${name}, and ${r.reason}` };
  return { kind: 'no-route', reason: `no MX and no A/AAAA records for ${name}` };
}

interface Addresses {
  addresses: string[];
  reason: string;
  temporary: boolean;
}

/** A and AAAA together; one family failing does not hide the other's addresses. */
async function addressesOf(resolver: Resolver, host: string): Promise<Addresses> {
  const [a, aaaa] = await Promise.all([resolver.lookup(host, 'A'), resolver.lookup(host, 'AAAA')]);
  const addresses = [...(a.kind === 'answer' ? a.records : []), ...(aaaa.kind === 'answer' ? aaaa.records : [])];
  const errors = [a, aaaa].filter((r): r is Extract<DnsResult<'A' | 'AAAA'>, { kind: 'error' }> => r.kind === 'error');
  if (errors.length > 0) {
    return {
      addresses,
      temporary: true,
      reason: errors.map((e) => `${e.type} lookup failed: ${e.failure}`).join(', '),
    };
  }
  return { addresses, temporary: false, reason: a.kind === 'nxdomain' ? 'host does not exist' : 'no A/AAAA records' };
}

/** Ascending preference; hosts of equal preference are shuffled (RFC 5321 §5.1 asks for randomisation). */
function orderByPreference<H extends { priority: number }>(hosts: H[], random: () => number): H[] {
  const groups = new Map<number, H[]>();
  for (const h of hosts) groups.set(h.priority, [...(groups.get(h.priority) ?? []), h]);
  return [...groups.keys()].sort((x, y) => x - y).flatMap((priority) => shuffle(groups.get(priority) ?? [], random));
}

function shuffle<H>(items: H[], random: () => number): H[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.min(i, Math.floor(random() * (i + 1)));
    [out[i], out[j]] = [out[j] as H, out[i] as H];
  }
  return out;
}
