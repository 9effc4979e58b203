/**
 * An in-memory `Resolver` for the identity tests: answers from a zone literal without sockets.
 * An absent name is NXDOMAIN, a present name without the asked type is NODATA, and a name (or one
 * type of it) can be made to fail, to exercise temperror paths. Names are case-insensitive and a
 * trailing dot is ignored. Every query is logged as `TYPE name`.
 */
import type { DnsFailure, DnsRecordData, DnsRecordType, DnsResult, MxRecord, Resolver } from '../../src/dns/index.js';

export interface ZoneEntry {
  A?: string[];
  AAAA?: string[];
  MX?: MxRecord[];
  /** One string per TXT record (its character-strings already joined). */
  TXT?: string[];
  PTR?: string[];
  CNAME?: string[];
  /** Every query for this name fails this way. */
  error?: DnsFailure;
  /** Queries of these types fail this way. */
  errors?: Partial<Record<DnsRecordType, DnsFailure>>;
}

export type Zone = Record<string, ZoneEntry>;

export interface ZoneResolver extends Resolver {
  readonly queries: string[];
}

const normalise = (name: string): string => name.toLowerCase().replace(/\.$/, '');

export function zoneResolver(zone: Zone): ZoneResolver {
  const entries = new Map<string, ZoneEntry>();
  for (const [name, entry] of Object.entries(zone)) entries.set(normalise(name), entry);
  const queries: string[] = [];
  return {
    queries,
    describe: () => 'in-memory zone',
    async lookup<T extends DnsRecordType>(name: string, type: T): Promise<DnsResult<T>> {
      queries.push(`${type} ${name}`);
      const entry = entries.get(normalise(name));
      if (!entry) return { kind: 'nxdomain', name, type, authenticated: false };
      const failure = entry.error ?? entry.errors?.[type];
      if (failure) return { kind: 'error', name, type, failure, message: `${failure} (test zone)` };
      const records = (entry as Record<string, unknown>)[type] as DnsRecordData[T][] | undefined;
      if (!records || records.length === 0) return { kind: 'nodata', name, type, authenticated: false };
      return { kind: 'answer', name, type, records, ttl: 300, authenticated: false };
    },
  };
}
