import type { MxRecord } from '../dns/index.js';
import type { DmarcLookup } from '../identity/index.js';
import type { PolicyFetcher } from '../transport-policy/index.js';
import type { RawFinding } from './finding.js';
import type { HttpsGetter } from './https-get.js';
import type { RecordingResolver } from './recording-resolver.js';

/**
 * What every check receives. Lookups several checks need (the MX set, the DMARC policy) are shared
 * promises, so checks run in parallel and still ask each name once.
 */
export interface MxView {
  kind: 'hosts' | 'none' | 'null' | 'error';
  records: MxRecord[];
  /** Host names (lower-case, no trailing dot) by priority, Null MX excluded. */
  hosts: string[];
  detail?: string;
}

export interface DmarcView {
  /** The lookup at the domain itself, and where the policy in force came from. */
  own: DmarcLookup;
  inForce?: DmarcLookup;
  orgDomain: string;
}

export interface CheckContext {
  domain: string;
  resolver: RecordingResolver;
  now: number;
  selectors: string[];
  /** Approved MX host patterns (`mx.example.net`, `*.example.net`); absent means no list to check. */
  approvedMx?: string[];
  fetchPolicy: PolicyFetcher;
  fetchHttps: HttpsGetter;
  mx(): Promise<MxView>;
  dmarc(): Promise<DmarcView>;
}

/** A check's answer: findings, and the facts it established (for the report and for change diffs). */
export interface CheckOutcome {
  findings: RawFinding[];
  facts: Record<string, unknown>;
}

export type Check = (ctx: CheckContext) => Promise<CheckOutcome>;
