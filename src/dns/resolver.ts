/**
 * The DNS interface every concern uses. It is injected (never a module singleton) so tests hand in the
 * loopback DNS server and operators point all lookups at one configured server (`--dns-server`).
 *
 * Lookups never throw for DNS outcomes: NXDOMAIN, NODATA and failures are values, because SPF void
 * lookups, Null MX, DANE and posture findings all need to tell them apart (RFC 7208 §4.6.4, RFC 7505,
 * RFC 7672 §2.2). `authenticated` is the AD bit of the answer, meaningful only when the configured
 * server is a validating resolver reached over a trusted path.
 */
export type DnsRecordType = 'A' | 'AAAA' | 'MX' | 'TXT' | 'CNAME' | 'PTR' | 'NS' | 'TLSA' | 'SOA';

export interface MxRecord {
  exchange: string;
  priority: number;
}

export interface TlsaRecord {
  usage: number;
  selector: number;
  matchingType: number;
  data: Buffer;
}

export interface SoaRecord {
  mname: string;
  rname: string;
  serial: number;
}

/** Record data per type: A/AAAA/CNAME/PTR/NS are strings; TXT is each record's strings joined. */
export interface DnsRecordData {
  A: string;
  AAAA: string;
  MX: MxRecord;
  TXT: string;
  CNAME: string;
  PTR: string;
  NS: string;
  TLSA: TlsaRecord;
  SOA: SoaRecord;
}

export type DnsFailure = 'servfail' | 'timeout' | 'refused' | 'network' | 'formerr';

export type DnsResult<T extends DnsRecordType> =
  | { kind: 'answer'; name: string; type: T; records: DnsRecordData[T][]; ttl: number; authenticated: boolean }
  | { kind: 'nxdomain'; name: string; type: T; authenticated: boolean }
  | { kind: 'nodata'; name: string; type: T; authenticated: boolean }
  | { kind: 'error'; name: string; type: T; failure: DnsFailure; message: string };

export interface Resolver {
  lookup<T extends DnsRecordType>(name: string, type: T): Promise<DnsResult<T>>;
  /** Which server(s) answer, for evidence reports ("resolver used"). */
  describe(): string;
}

/** Records of an answer, or an empty list for NXDOMAIN/NODATA/error. */
export function recordsOf<T extends DnsRecordType>(r: DnsResult<T>): DnsRecordData[T][] {
  return r.kind === 'answer' ? r.records : [];
}
