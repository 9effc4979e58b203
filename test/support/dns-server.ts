/**
 * A loopback DNS server for tests: UDP and TCP on one 127.0.0.1 port, answering from an in-memory zone
 * literal. It behaves like a small recursive resolver that knows only this zone:
 *
 * - a name with no records of the asked type answers NODATA (NOERROR, no answers, an SOA in the
 *   authority section whose MINIMUM is the negative TTL, RFC 2308 §3); an absent name answers NXDOMAIN,
 *   unless it has descendants in the zone (an empty non-terminal is NODATA, RFC 8020 §2);
 * - CNAMEs are followed inside the zone and the whole chain is returned (RFC 1034 §3.6.2);
 * - TXT strings are split into 255-byte character-strings (RFC 1035 §3.3.14);
 * - over UDP an answer larger than 512 bytes, or than the client's EDNS payload size, is sent empty
 *   with TC set (RFC 2181 §9), and the client retries over TCP, which always carries the whole answer;
 * - options answer SERVFAIL for chosen names, delay answers, and set AD (for DANE tests) when the
 *   query asked for DNSSEC data with DO or AD (RFC 6840 §5.7).
 *
 * Every query is logged in `queries`, so a test can assert what was (not) asked.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import type { TestContext } from 'node:test';
import dnsPacket, { type Answer, type DecodedPacket, type Packet, type RrsigData } from 'dns-packet';
import type { MxRecord, TlsaRecord } from '../../src/dns/index.js';

export interface ZoneEntry {
  A?: string[];
  AAAA?: string[];
  MX?: MxRecord[];
  /** A string is split at 255 bytes; an array gives the character-strings of one record explicitly. */
  TXT?: Array<string | string[]>;
  CNAME?: string;
  TLSA?: TlsaRecord[];
  NS?: string[];
  PTR?: string[];
  SOA?: { mname: string; rname: string; serial: number; minimum?: number };
  /** DNSSEC (test/support/dnssec-signer.ts fills these): keys at the apex, signatures per RRset. */
  DNSKEY?: { flags: number; algorithm: number; key: Buffer }[];
  /** Sent with the RRset they cover when the query sets DO (RFC 4035 §3.1.1). */
  RRSIG?: RrsigData[];
  /** This name's link in the NSEC chain; sent (signed) with negative answers when DO is set (RFC 4035 §3.1.3). */
  NSEC?: { nextDomain: string; rrtypes: string[] };
}

/** Owner name → records. Names are case-insensitive, with or without the trailing dot. */
export type Zone = Record<string, ZoneEntry>;

export interface DnsServerOptions {
  /** Names answered with SERVFAIL. */
  servfail?: string[];
  /** Delay before answering, for every name or per name. */
  delayMs?: number | Record<string, number>;
  /** Set the AD bit on every answer, or on answers for these names. */
  authenticated?: boolean | string[];
  /** TTL of every record (default 300 s). */
  ttl?: number;
  /** MINIMUM (and TTL) of the SOA sent with negative answers (default 300 s). */
  negativeTtl?: number;
  /** Send negative answers without an SOA, like a careless server. */
  omitSoa?: boolean;
}

export interface DnsQueryLogEntry {
  name: string;
  type: string;
  transport: 'udp' | 'tcp';
  /** The EDNS DO bit of the query. */
  dnssecOk: boolean;
}

export interface DnsTestServer {
  /** `127.0.0.1:PORT`, ready for `createResolver({ servers: [server.address] })`. */
  readonly address: string;
  readonly port: number;
  readonly queries: DnsQueryLogEntry[];
  readonly zone: Zone;
  setZone(zone: Zone): void;
  readonly options: DnsServerOptions;
  setOptions(options: DnsServerOptions): void;
  close(): Promise<void>;
}

const MAX_CHAIN = 8;
const CLASSIC_UDP_LIMIT = 512;

const normalise = (name: string) => {
  const lower = name.toLowerCase();
  return lower.length > 1 && lower.endsWith('.') ? lower.slice(0, -1) : lower;
};

/** Starts the server and closes it when the test ends. */
export async function startDnsServer(t: TestContext, zone: Zone, options: DnsServerOptions = {}): Promise<DnsTestServer> {
  const server = await startDnsServerRaw(zone, options);
  t.after(() => server.close());
  return server;
}

/** Starts the server; the caller closes it (benchmarks, scripts). */
export async function startDnsServerRaw(zone: Zone, options: DnsServerOptions = {}): Promise<DnsTestServer> {
  let current = zone;
  let entries = normaliseZone(zone);
  let opts = options;
  const queries: DnsQueryLogEntry[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const connections = new Set<net.Socket>();
  let closed = false;

  const respond = (msg: Buffer, transport: 'udp' | 'tcp', send: (reply: Buffer) => void) => {
    let query: DecodedPacket;
    try {
      query = dnsPacket.decode(msg);
    } catch {
      return; // not DNS: a real server drops it too
    }
    if (query.flag_qr) return;
    const question = query.questions?.[0];
    const opt = query.additionals?.find((a) => a.type === 'OPT');
    const dnssecOk = opt !== undefined && opt.type === 'OPT' && opt.flag_do;
    if (question) queries.push({ name: normalise(question.name), type: question.type, transport, dnssecOk });
    const delay = question ? delayFor(opts, normalise(question.name)) : 0;
    const reply = buildReply(query, entries, opts, transport);
    if (delay <= 0) return send(reply);
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (!closed) send(reply);
    }, delay);
    timers.add(timer);
  };

  const { udp, tcp } = await bindSamePort(
    (msg, rinfo, socket) => respond(msg, 'udp', (reply) => socket.send(reply, rinfo.port, rinfo.address)),
    (socket) => {
      connections.add(socket);
      socket.on('close', () => connections.delete(socket));
      socket.on('error', () => socket.destroy());
      let buffered = Buffer.alloc(0);
      socket.on('data', (chunk) => {
        buffered = Buffer.concat([buffered, chunk]);
        while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
          const length = buffered.readUInt16BE(0);
          const msg = buffered.subarray(2, 2 + length);
          buffered = buffered.subarray(2 + length);
          respond(msg, 'tcp', (reply) => {
            if (socket.destroyed) return;
            const frame = Buffer.alloc(2 + reply.length);
            frame.writeUInt16BE(reply.length, 0);
            reply.copy(frame, 2);
            socket.write(frame);
          });
        }
      });
    },
  );
  const port = (udp.address() as { port: number }).port;

  return {
    address: `127.0.0.1:${port}`,
    port,
    queries,
    get zone() {
      return current;
    },
    setZone(next: Zone) {
      current = next;
      entries = normaliseZone(next);
    },
    get options() {
      return opts;
    },
    setOptions(next: DnsServerOptions) {
      opts = next;
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      for (const socket of connections) socket.destroy();
      await Promise.all([
        new Promise<void>((resolve) => udp.close(() => resolve())),
        new Promise<void>((resolve) => tcp.close(() => resolve())),
      ]);
    },
  };
}

type UdpHandler = (msg: Buffer, rinfo: dgram.RemoteInfo, socket: dgram.Socket) => void;

/** Binds UDP on an ephemeral port, then TCP on the same number; retries if TCP finds it taken. */
async function bindSamePort(onUdp: UdpHandler, onTcp: (socket: net.Socket) => void) {
  let lastError: unknown;
  for (let attempt = 0; attempt < 10; attempt++) {
    const udp = dgram.createSocket('udp4');
    udp.on('message', (msg, rinfo) => onUdp(msg, rinfo, udp));
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(0, '127.0.0.1', () => {
        udp.off('error', reject);
        resolve();
      });
    });
    udp.on('error', () => {}); // a send to a vanished client must not crash the test process
    const port = udp.address().port;
    const tcp = net.createServer(onTcp);
    try {
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen(port, '127.0.0.1', () => {
          tcp.off('error', reject);
          resolve();
        });
      });
      return { udp, tcp };
    } catch (e) {
      lastError = e;
      await new Promise<void>((resolve) => udp.close(() => resolve()));
    }
  }
  throw new Error(`could not bind UDP and TCP on one port: ${String(lastError)}`);
}

function normaliseZone(zone: Zone): Map<string, ZoneEntry> {
  return new Map(Object.entries(zone).map(([name, entry]) => [normalise(name), entry]));
}

function delayFor(opts: DnsServerOptions, name: string): number {
  if (typeof opts.delayMs === 'number') return opts.delayMs;
  return opts.delayMs?.[name] ?? 0;
}

const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4 } as const;

function buildReply(query: DecodedPacket, zone: Map<string, ZoneEntry>, opts: DnsServerOptions, transport: 'udp' | 'tcp'): Buffer {
  const question = query.questions?.[0];
  const opt = query.additionals?.find((a) => a.type === 'OPT');
  const dnssecOk = opt !== undefined && opt.type === 'OPT' && opt.flag_do;
  const opcode = (query as DecodedPacket & { opcode?: string }).opcode;
  const reply: Packet & { answers: Answer[]; authorities: Answer[] } = {
    type: 'response',
    id: query.id ?? 0,
    questions: query.questions ?? [],
    answers: [],
    authorities: [],
    additionals: opt
      ? [
          {
            type: 'OPT',
            name: '.',
            udpPayloadSize: 1232,
            extendedRcode: 0,
            ednsVersion: 0,
            flags: dnssecOk ? dnsPacket.DNSSEC_OK : 0,
            flag_do: dnssecOk,
            options: [],
          },
        ]
      : [],
  };
  let rcode: number = RCODE.NOERROR;
  let ad = false;
  if (!question || query.questions?.length !== 1) rcode = RCODE.FORMERR;
  else if (opcode !== undefined && opcode !== 'QUERY') rcode = RCODE.NOTIMP;
  else {
    const name = normalise(question.name);
    if (opts.servfail?.map(normalise).includes(name)) rcode = RCODE.SERVFAIL;
    else {
      const found = lookupZone(zone, name, question.type, opts.ttl ?? 300);
      reply.answers.push(...found.answers);
      rcode = found.nxdomain ? RCODE.NXDOMAIN : RCODE.NOERROR;
      if (!found.positive && !opts.omitSoa) reply.authorities.push(soaFor(zone, found.lastName, opts.negativeTtl ?? 300));
      if (dnssecOk) addDnssec(zone, reply, found, opts.ttl ?? 300);
      const auth = opts.authenticated;
      ad = (dnssecOk || query.flag_ad) && (auth === true || (Array.isArray(auth) && auth.map(normalise).includes(name)));
    }
  }
  const flags =
    dnsPacket.AUTHORITATIVE_ANSWER |
    dnsPacket.RECURSION_AVAILABLE |
    (query.flag_rd ? dnsPacket.RECURSION_DESIRED : 0) |
    (ad ? dnsPacket.AUTHENTIC_DATA : 0) |
    rcode;
  const full = dnsPacket.encode({ ...reply, flags });
  const limit = Math.max(CLASSIC_UDP_LIMIT, opt?.type === 'OPT' ? opt.udpPayloadSize : 0);
  if (transport === 'tcp' || full.length <= limit) return full;
  // RFC 2181 §9: an answer that does not fit is sent with TC and without the partial RRsets.
  return dnsPacket.encode({ ...reply, answers: [], authorities: [], flags: flags | dnsPacket.TRUNCATED_RESPONSE });
}

interface ZoneAnswer {
  answers: Answer[];
  nxdomain: boolean;
  /** Whether records of the asked type were found (at the end of any CNAME chain). */
  positive: boolean;
  /** The last name of the chain: the owner of the negative answer. */
  lastName: string;
}

function lookupZone(zone: Map<string, ZoneEntry>, qname: string, type: string, ttl: number): ZoneAnswer {
  const answers: Answer[] = [];
  let name = qname;
  for (let hop = 0; hop < MAX_CHAIN; hop++) {
    const entry = zone.get(name);
    if (!entry) {
      const hasDescendants = [...zone.keys()].some((k) => k.endsWith(`.${name}`));
      return { answers, nxdomain: !hasDescendants, positive: false, lastName: name };
    }
    const records = recordsOf(entry, name, type, ttl);
    if (records.length > 0) return { answers: [...answers, ...records], nxdomain: false, positive: true, lastName: name };
    if (entry.CNAME === undefined || type === 'CNAME') break;
    answers.push({ type: 'CNAME', name, ttl, data: normalise(entry.CNAME) });
    name = normalise(entry.CNAME);
  }
  return { answers, nxdomain: false, positive: false, lastName: name };
}

/**
 * With DO set: the RRSIGs of every RRset in the answer and authority sections, and for a negative
 * answer the NSEC records that prove it (RFC 4035 §3.1.3): the name's own NSEC for NODATA, the NSEC
 * covering the name and the one covering the wildcard for NXDOMAIN. Only zones that carry NSEC and
 * RRSIG data (a signed test zone) get any of this.
 */
function addDnssec(
  zone: Map<string, ZoneEntry>,
  reply: { answers: Answer[]; authorities: Answer[] },
  found: ZoneAnswer,
  ttl: number,
): void {
  if (!found.positive) {
    const nsecs = found.nxdomain
      ? [coveringNsec(zone, found.lastName), coveringNsec(zone, `*.${apexOf(zone, found.lastName) ?? ''}`)]
      : [zone.get(found.lastName)?.NSEC ? found.lastName : undefined];
    for (const owner of new Set(nsecs)) {
      const nsec = owner ? zone.get(owner)?.NSEC : undefined;
      if (owner && nsec) reply.authorities.push({ type: 'NSEC', name: owner, ttl, data: nsec });
    }
  }
  for (const section of [reply.answers, reply.authorities]) {
    const sets = new Set(section.map((a) => `${normalise(a.name)}\u0000${a.type}`));
    for (const key of sets) {
      const [owner, type] = key.split('\u0000') as [string, string];
      for (const sig of zone.get(owner)?.RRSIG ?? [])
        if (sig.typeCovered === type) section.push({ type: 'RRSIG', name: owner, ttl, data: sig });
    }
  }
}

/** RFC 4034 §6.1 canonical order: compare label by label from the right, as lower-case bytes. */
export function canonicalCompare(a: string, b: string): number {
  const la = normalise(a).split('.').reverse();
  const lb = normalise(b).split('.').reverse();
  for (let i = 0; i < Math.min(la.length, lb.length); i++) {
    const c = Buffer.compare(Buffer.from(la[i]!), Buffer.from(lb[i]!));
    if (c !== 0) return c;
  }
  return la.length - lb.length;
}

function apexOf(zone: Map<string, ZoneEntry>, name: string): string | undefined {
  const labels = name.split('.');
  for (let i = 0; i < labels.length; i++) {
    const owner = labels.slice(i).join('.');
    if (zone.get(owner)?.DNSKEY) return owner;
  }
  return undefined;
}

/** The NSEC whose owner sorts before `name` and whose next name after it (the chain wraps at the apex). */
function coveringNsec(zone: Map<string, ZoneEntry>, name: string): string | undefined {
  let best: string | undefined;
  for (const [owner, entry] of zone) {
    if (!entry.NSEC || canonicalCompare(owner, name) > 0) continue;
    if (!best || canonicalCompare(owner, best) > 0) best = owner;
  }
  return best;
}

/** The answers the server sends for one name and type (the signer signs exactly these). */
export function zoneRecords(entry: ZoneEntry, name: string, type: string, ttl: number): Answer[] {
  return recordsOf(entry, normalise(name), type, ttl);
}

function recordsOf(entry: ZoneEntry, name: string, type: string, ttl: number): Answer[] {
  switch (type) {
    case 'A':
    case 'AAAA':
    case 'NS':
    case 'PTR':
      return (entry[type] ?? []).map((data) => ({ type, name, ttl, data }));
    case 'CNAME':
      return entry.CNAME === undefined ? [] : [{ type, name, ttl, data: normalise(entry.CNAME) }];
    case 'MX':
      return (entry.MX ?? []).map((mx) => ({ type, name, ttl, data: { preference: mx.priority, exchange: mx.exchange } }));
    case 'TXT':
      return (entry.TXT ?? []).map((txt) => ({ type, name, ttl, data: (Array.isArray(txt) ? txt : [txt]).flatMap(characterStrings) }));
    case 'TLSA':
      return (entry.TLSA ?? []).map((r) => ({
        type,
        name,
        ttl,
        data: { usage: r.usage, selector: r.selector, matchingType: r.matchingType, certificate: r.data },
      }));
    case 'SOA':
      return entry.SOA ? [{ type, name, ttl, data: { ...entry.SOA, minimum: entry.SOA.minimum ?? ttl } }] : [];
    case 'DNSKEY':
      return (entry.DNSKEY ?? []).map((data) => ({ type, name, ttl, data }));
    case 'RRSIG':
      return (entry.RRSIG ?? []).map((data) => ({ type, name, ttl, data }));
    case 'NSEC':
      return entry.NSEC ? [{ type, name, ttl, data: entry.NSEC }] : [];
    default:
      return [];
  }
}

/** RFC 1035 §3.3: a character-string is a length octet and at most 255 bytes. */
function characterStrings(text: string): Buffer[] {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length === 0) return [bytes];
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += 255) chunks.push(bytes.subarray(i, i + 255));
  return chunks;
}

/** The SOA of the closest enclosing name that has one, else a synthetic one at the last two labels. */
function soaFor(zone: Map<string, ZoneEntry>, name: string, negativeTtl: number): Answer {
  const labels = name.split('.');
  for (let i = 0; i < labels.length; i++) {
    const owner = labels.slice(i).join('.');
    const soa = zone.get(owner)?.SOA;
    if (soa) {
      const minimum = soa.minimum ?? negativeTtl;
      return { type: 'SOA', name: owner, ttl: minimum, data: { ...soa, minimum } };
    }
  }
  const apex = labels.slice(-2).join('.');
  return {
    type: 'SOA',
    name: apex,
    ttl: negativeTtl,
    data: { mname: `ns.${apex}`, rname: `hostmaster.${apex}`, serial: 1, refresh: 3600, retry: 600, expire: 86_400, minimum: negativeTtl },
  };
}
