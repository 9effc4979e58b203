/**
 * An in-memory `Resolver` for unit tests of the transport-policy concern: answers from a mutable zone,
 * can fail chosen names, and counts lookups. Tests that need the wire use test/support/dns-server.
 */
import type { DnsFailure, DnsRecordData, DnsRecordType, DnsResult, Resolver } from '../../src/dns/index.js';

export type ZoneRecords = { [T in DnsRecordType]?: DnsRecordData[T][] };

export interface ZoneResolver extends Resolver {
  zone: Record<string, ZoneRecords>;
  /** Names (any type) answered with this failure. */
  failing: Map<string, DnsFailure>;
  /** Names whose answers carry the AD bit. */
  secure: Set<string>;
  lookups: Array<{ name: string; type: DnsRecordType }>;
}

export function createZoneResolver(zone: Record<string, ZoneRecords> = {}): ZoneResolver {
  const resolver: ZoneResolver = {
    zone,
    failing: new Map(),
    secure: new Set(),
    lookups: [],
    async lookup<T extends DnsRecordType>(name: string, type: T): Promise<DnsResult<T>> {
      const key = name.toLowerCase().replace(/\.$/, '');
      resolver.lookups.push({ name: key, type });
      const failure = resolver.failing.get(key);
      if (failure) return { kind: 'error', name: key, type, failure, message: `${failure} (test)` };
      const authenticated = resolver.secure.has(key);
      const entry = resolver.zone[key];
      if (!entry) return { kind: 'nxdomain', name: key, type, authenticated };
      const records = (entry[type] ?? []) as DnsRecordData[T][];
      if (records.length === 0) return { kind: 'nodata', name: key, type, authenticated };
      return { kind: 'answer', name: key, type, records, ttl: 300, authenticated };
    },
    describe: () => 'in-memory test zone',
  };
  return resolver;
}
