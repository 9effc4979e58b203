import type { DnsResult, Resolver, TlsaRecord } from '../dns/index.js';

/**
 * What DNS says about DANE for one MX host, before any connection: the input of the TLS decision.
 * RFC 7672 §2.2: only a DNSSEC-validated ("secure") TLSA RRset counts. A failed TLSA lookup matters
 * only when the host's address records were themselves secure (a signed zone that cannot answer may
 * be under attack), and then the host must not be used; for an insecure host it is just "no DANE",
 * because broken unsigned zones that fail TLSA queries are common and prove nothing.
 */
export type DaneState = { kind: 'none'; reason: string } | { kind: 'secure'; tlsa: TlsaRecord[] } | { kind: 'failed'; reason: string };

/** The owner name of TLSA records (RFC 6698 §3): `_25._tcp.<mx>` for SMTP. */
export function tlsaOwner(host: string, port = 25): string {
  return `_${port}._tcp.${host.toLowerCase().replace(/\.$/, '')}`;
}

export function daneStateFromLookup(result: DnsResult<'TLSA'>, opts: { hostSecure: boolean }): DaneState {
  switch (result.kind) {
    case 'answer':
      if (!result.authenticated) return { kind: 'none', reason: `TLSA at ${result.name} is not DNSSEC-validated` };
      return { kind: 'secure', tlsa: result.records };
    case 'nxdomain':
    case 'nodata':
      return { kind: 'none', reason: `no TLSA at ${result.name}${result.authenticated ? ' (secure denial)' : ''}` };
    case 'error':
      if (opts.hostSecure) {
        const reason = `TLSA lookup at ${result.name} failed (${result.failure}) for a DNSSEC-signed host (RFC 7672 §2.2)`;
        return { kind: 'failed', reason };
      }
      return { kind: 'none', reason: `TLSA lookup at ${result.name} failed (${result.failure}); host is not DNSSEC-signed` };
    default: {
      const never: never = result;
      return never;
    }
  }
}

/**
 * Looks up `_25._tcp.<host>` TLSA. `hostSecure` is whether the host's A/AAAA answer was validated;
 * when the caller does not know, it is read from an A lookup through the same resolver.
 */
export async function lookupDane(resolver: Resolver, host: string, opts: { port?: number; hostSecure?: boolean } = {}): Promise<DaneState> {
  let hostSecure = opts.hostSecure;
  if (hostSecure === undefined) {
    const a = await resolver.lookup(host, 'A');
    hostSecure = a.kind !== 'error' && a.authenticated;
  }
  // RFC 7672 §2.2: DANE applies only to hosts whose address records are secure; skip the TLSA query.
  if (!hostSecure) return { kind: 'none', reason: `address of ${host} is not DNSSEC-validated` };
  const result = await resolver.lookup(tlsaOwner(host, opts.port), 'TLSA');
  return daneStateFromLookup(result, { hostSecure });
}
