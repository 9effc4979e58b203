/**
 * A stub resolver over dns-packet: it asks configured recursive resolvers and turns their replies into
 * `DnsResult` values, never exceptions.
 *
 * Why not node:dns? It cannot return the AD bit (DANE, RFC 7672 §2.2 needs it), cannot read TLSA, and
 * folds NXDOMAIN and NODATA into error strings that differ between c-ares versions. Here each query
 * asks for recursion (RD) and sets the EDNS0 DO bit (RFC 3225 §3, RFC 6840 §5.7) so a validating
 * resolver reports AD; UDP first, TCP when the reply is truncated (RFC 7766 §5).
 *
 * Retries: the server list is walked `tries` times in order. A timeout or socket error moves on to the
 * next attempt; a server that answered SERVFAIL/REFUSED/FORMERR is not asked again for this lookup,
 * but the other servers are. Lookups of the same name and type in flight at once share one query, and
 * answers and negative answers are kept in a TTL cache (see cache.ts).
 */
import { randomInt } from 'node:crypto';
import dnsPacket, { type Answer, type DecodedPacket } from 'dns-packet';
import type { Clock } from '../core/index.js';
import { cacheKey, createDnsCache, normaliseName } from './cache.js';
import { type DnsServerAddress, exchangeTcp, exchangeUdp, parseServerAddress } from './exchange.js';
import { readResolvConf } from './resolv-conf.js';
import type { DnsFailure, DnsRecordData, DnsRecordType, DnsResult, Resolver } from './resolver.js';

export interface StubResolverOptions {
  /** `host`, `host:port`, `[v6]:port`; absent or empty: the system's resolvers, read from `resolvConf`. */
  servers?: string[];
  /** resolv.conf to read when `servers` is empty (default /etc/resolv.conf; see resolv-conf.ts). */
  resolvConf?: string;
  /** Per attempt, UDP or TCP. */
  timeoutMs?: number;
  clock: Clock;
  cache?: boolean;
  /** How many times the whole server list is walked before giving up. */
  tries?: number;
  cacheEntries?: number;
}

/** RFC 1035 §5 chains are short in practice; 8 hops bounds a loop or a runaway chain. */
const MAX_CNAME_HOPS = 8;
/** Negative TTL when the reply carries no SOA to take it from (RFC 2308 §5 leaves it to us). */
const DEFAULT_NEGATIVE_TTL_S = 60;
/** DNS Flag Day 2020: a payload size that avoids IP fragmentation on almost every path. */
const EDNS_UDP_PAYLOAD = 1232;

export interface Interpreted<T extends DnsRecordType> {
  result: DnsResult<T>;
  /** Seconds the result may be cached; 0 for failures. */
  ttl: number;
}

export function createResolver(options: StubResolverOptions): Resolver {
  // An empty list is the default config: it means the system's resolvers, never "no servers".
  const system = options.servers?.length ? undefined : readResolvConf(options.resolvConf);
  const servers = (system?.servers ?? options.servers ?? []).map(parseServerAddress);
  const timeoutMs = options.timeoutMs ?? 3000;
  const tries = Math.max(1, options.tries ?? system?.attempts ?? 2);
  const source = system ? ` (from ${system.path}${system.unreadable ? `, unreadable: ${system.unreadable}` : ''})` : '';
  const cache = options.cache === false ? undefined : createDnsCache({ clock: options.clock, maxEntries: options.cacheEntries });
  const inFlight = new Map<string, Promise<DnsResult<DnsRecordType>>>();

  async function resolveUncached<T extends DnsRecordType>(name: string, type: T): Promise<Interpreted<T>> {
    const invalid = nameProblem(name);
    if (invalid) return failed(name, type, 'formerr', invalid);
    let last: Interpreted<T> = failed(name, type, 'network', 'no server could be asked');
    const refusedBy = new Set<string>();
    for (let attempt = 0; attempt < tries * servers.length; attempt++) {
      const server = servers[attempt % servers.length] as DnsServerAddress;
      if (refusedBy.has(server.label)) continue;
      const id = randomInt(65_536);
      const query = encodeQuery(id, name, type);
      const expected = { id, name, type };
      let exchange = await exchangeUdp(server, query, expected, timeoutMs);
      if (exchange.ok && exchange.packet.flag_tc) exchange = await exchangeTcp(server, query, expected, timeoutMs);
      if (!exchange.ok) {
        last = failed(name, type, exchange.failure, exchange.message);
        continue;
      }
      const interpreted = interpretReply(name, type, exchange.packet);
      if (interpreted.result.kind !== 'error') return interpreted;
      last = interpreted;
      refusedBy.add(server.label);
    }
    return last;
  }

  return {
    lookup<T extends DnsRecordType>(name: string, type: T): Promise<DnsResult<T>> {
      const cached = cache?.get(name, type);
      if (cached) return Promise.resolve(cached);
      const key = cacheKey(name, type);
      const pending = inFlight.get(key);
      if (pending) return pending as Promise<DnsResult<T>>;
      const promise = resolveUncached(name, type)
        .then(({ result, ttl }) => {
          cache?.set(name, type, result, ttl);
          return result;
        })
        .finally(() => inFlight.delete(key));
      inFlight.set(key, promise as Promise<DnsResult<DnsRecordType>>);
      return promise;
    },
    describe: () => `dns stub resolver via ${servers.map((s) => s.label).join(', ')}${source}`,
  };
}

function encodeQuery(id: number, name: string, type: DnsRecordType): Buffer {
  return dnsPacket.encode({
    type: 'query',
    id,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type, name: normaliseName(name), class: 'IN' }],
    additionals: [
      {
        type: 'OPT',
        name: '.',
        udpPayloadSize: EDNS_UDP_PAYLOAD,
        extendedRcode: 0,
        ednsVersion: 0,
        flags: dnsPacket.DNSSEC_OK,
        flag_do: true,
        options: [],
      },
    ],
  });
}

/** RFC 1035 §2.3.4: labels of 1–63 octets, 255 octets on the wire (253 characters in text form). */
function nameProblem(name: string): string | undefined {
  const n = normaliseName(name);
  if (n === '.' || n === '') return 'the root name cannot be looked up here';
  if (Buffer.byteLength(n) > 253) return `name longer than 253 octets: ${n.slice(0, 40)}…`;
  for (const label of n.split('.')) {
    const length = Buffer.byteLength(label);
    if (length === 0 || length > 63) return `invalid label in "${n}"`;
  }
  return undefined;
}

function failed<T extends DnsRecordType>(name: string, type: T, failure: DnsFailure, message: string): Interpreted<T> {
  return { result: { kind: 'error', name: normaliseName(name), type, failure, message }, ttl: 0 };
}

/** Maps one reply to a result (exported for the table tests of RCODE and CNAME handling). */
export function interpretReply<T extends DnsRecordType>(name: string, type: T, packet: DecodedPacket): Interpreted<T> {
  const owner = normaliseName(name);
  const authenticated = packet.flag_ad;
  // dns-packet decodes the RCODE but its type declarations omit the field.
  const rcode = (packet as DecodedPacket & { rcode?: string }).rcode ?? 'NOERROR';
  switch (rcode) {
    case 'NOERROR':
      break;
    case 'NXDOMAIN':
      // RFC 6604 §3: with a CNAME chain the RCODE speaks of the chain's last name; either way the
      // asked name leads nowhere.
      return { result: { kind: 'nxdomain', name: owner, type, authenticated }, ttl: negativeTtl(packet) };
    case 'SERVFAIL':
      return failed(name, type, 'servfail', 'the server answered SERVFAIL');
    case 'REFUSED':
      return failed(name, type, 'refused', 'the server answered REFUSED');
    case 'FORMERR':
      return failed(name, type, 'formerr', 'the server answered FORMERR');
    default:
      return failed(name, type, 'servfail', `the server answered ${rcode}`);
  }

  const answers = packet.answers ?? [];
  let current = owner;
  let ttl = Number.POSITIVE_INFINITY;
  for (let hop = 0; hop <= MAX_CNAME_HOPS; hop++) {
    const owned = answers.filter((a) => a.type !== 'OPT' && normaliseName(a.name) === current);
    const records = owned.filter((a) => a.type === type).map((a) => recordData(type, a));
    if (records.length > 0) {
      if (records.some((r) => r === undefined)) return failed(name, type, 'formerr', `malformed ${type} record in reply`);
      for (const a of owned) if (a.type === type) ttl = Math.min(ttl, ttlOf(a));
      return {
        result: { kind: 'answer', name: owner, type, records: records as DnsRecordData[T][], ttl, authenticated },
        ttl,
      };
    }
    const cname = owned.find((a) => a.type === 'CNAME');
    const target = cname ? recordData('CNAME', cname) : undefined;
    if (!cname || target === undefined) break;
    ttl = Math.min(ttl, ttlOf(cname));
    current = normaliseName(target);
  }
  return { result: { kind: 'nodata', name: owner, type, authenticated }, ttl: negativeTtl(packet) };
}

function ttlOf(a: Answer): number {
  return 'ttl' in a && typeof a.ttl === 'number' ? a.ttl : 0;
}

/** RFC 2308 §5: a negative answer lives for the lesser of the SOA's TTL and its MINIMUM field. */
function negativeTtl(packet: DecodedPacket): number {
  for (const a of packet.authorities ?? []) {
    if (a.type === 'SOA') return Math.min(ttlOf(a), a.data.minimum ?? DEFAULT_NEGATIVE_TTL_S);
  }
  return DEFAULT_NEGATIVE_TTL_S;
}

/** Converts dns-packet's decoded RDATA to ours; undefined when it does not have the expected shape. */
function recordData<T extends DnsRecordType>(type: T, answer: Answer): DnsRecordData[T] | undefined {
  const data: unknown = 'data' in answer ? answer.data : undefined;
  return convert[type](data) as DnsRecordData[T] | undefined;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
const text = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

const convert: { [K in DnsRecordType]: (data: unknown) => DnsRecordData[K] | undefined } = {
  A: text,
  AAAA: text,
  CNAME: text,
  PTR: text,
  NS: text,
  MX: (d) =>
    isRecord(d) && typeof d.exchange === 'string'
      ? { exchange: d.exchange, priority: typeof d.preference === 'number' ? d.preference : 0 }
      : undefined,
  // RFC 7208 §3.3: a record's character-strings are concatenated without separators. Join the bytes
  // before decoding, so a UTF-8 sequence split across two strings survives.
  TXT: (d) => {
    const parts = Array.isArray(d) ? d : [d];
    const buffers = parts.map((p) => (Buffer.isBuffer(p) ? p : typeof p === 'string' ? Buffer.from(p) : undefined));
    return buffers.every((b) => b !== undefined) ? Buffer.concat(buffers as Buffer[]).toString('utf8') : undefined;
  },
  // RFC 6698 §2.1: usage, selector, matching type (one octet each), then the association data.
  TLSA: (d) =>
    isRecord(d) &&
    typeof d.usage === 'number' &&
    typeof d.selector === 'number' &&
    typeof d.matchingType === 'number' &&
    Buffer.isBuffer(d.certificate)
      ? { usage: d.usage, selector: d.selector, matchingType: d.matchingType, data: Buffer.from(d.certificate) }
      : undefined,
  SOA: (d) =>
    isRecord(d) && typeof d.mname === 'string' && typeof d.rname === 'string'
      ? { mname: d.mname, rname: d.rname, serial: typeof d.serial === 'number' ? d.serial : 0 }
      : undefined,
};
