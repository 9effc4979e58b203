import { type Clock, systemClock } from '../core/index.js';
import type { DnsRecordType, DnsResult, Resolver } from '../dns/index.js';
import { formatIp, type IpAddress, type IpFamily, network, networkContains, parseIp, reverseName } from './ip-network.js';
import { expandMacroString, type MacroValues, truncateDomain } from './spf-macro.js';
import {
  isSpfRecord,
  type MacroString,
  parseExplainString,
  parseSpfRecord,
  type SpfDirective,
  type SpfQualifier,
  type SpfRecord,
} from './spf-record.js';

/**
 * RFC 7208 check_host(). Evaluation follows §4 (record selection, term order, limits), §5
 * (mechanisms), §6 (redirect, exp) and §7 (macros); the record is parsed completely first because a
 * syntax error anywhere is a permerror (§4.6). Outcomes are values; internally a permerror or
 * temperror unwinds through `SpfAbort` and is turned back into a value at the boundary.
 */
export type SpfResultCode = 'none' | 'neutral' | 'pass' | 'fail' | 'softfail' | 'temperror' | 'permerror';

export interface SpfLimits {
  /** §4.6.4: terms that cause DNS queries (include, a, mx, ptr, exists, redirect). */
  lookups: number;
  /** §4.6.4: terms whose query returned NXDOMAIN or no answers. */
  voidLookups: number;
  /** §4.6.4: MX names whose addresses an "mx" term may look up; more is a permerror. */
  mxHosts: number;
  /** §4.6.4: PTR names validated by "ptr" or %{p}; the rest are ignored. */
  ptrNames: number;
}

export const defaultSpfLimits: SpfLimits = { lookups: 10, voidLookups: 2, mxHosts: 10, ptrNames: 10 };

export interface CheckHostInput {
  /** The SMTP client's address; IPv4-mapped IPv6 is evaluated as IPv4 (§5). */
  ip: string;
  /** <domain>: the domain whose SPF record is evaluated. */
  domain: string;
  /** <sender>: MAIL FROM, or postmaster@HELO for the HELO identity (§2.4). */
  sender: string;
  /** HELO/EHLO name for %{h}. */
  helo?: string;
}

export interface SpfDeps {
  resolver: Resolver;
  limits?: Partial<SpfLimits>;
  /** %{r}: this host's name (§7.3); "unknown" when absent. */
  receiver?: string;
  /** %{t}: the clock for the timestamp. */
  clock?: Clock;
}

export interface SpfCheckResult {
  result: SpfResultCode;
  /** From the "exp" modifier, only on "fail" (§6.2). */
  explanation?: string;
  /** The term that decided the result, as written. */
  mechanism?: string;
  domain: string;
  /** The SPF record found at <domain>, when one was. */
  record?: string;
  /** Why the result is none, temperror or permerror. */
  problem?: string;
  lookups: number;
  voidLookups: number;
  /** Evidence: every term evaluated, in order, with its outcome. */
  trace: string[];
}

class SpfAbort {
  constructor(
    readonly result: 'temperror' | 'permerror',
    readonly problem: string,
  ) {}
}

interface EvalOutcome {
  result: Exclude<SpfResultCode, 'temperror' | 'permerror'>;
  explanation?: string;
  mechanism?: string;
  record?: string;
  problem?: string;
}

interface State {
  resolver: Resolver;
  limits: SpfLimits;
  ip: IpAddress;
  base: Omit<MacroValues, 'domain' | 'validatedName'>;
  lookups: number;
  voids: number;
  evaluations: number;
  trace: string[];
  ptrCache?: Promise<PtrValidation>;
}

const QUALIFIER_RESULT: Record<SpfQualifier, EvalOutcome['result']> = {
  '+': 'pass',
  '-': 'fail',
  '~': 'softfail',
  '?': 'neutral',
};

/** Hard stop on nesting if limits are raised by configuration; the lookup limit normally binds first. */
const MAX_EVALUATIONS = 64;

function stripDot(name: string): string {
  return name.endsWith('.') ? name.slice(0, -1) : name;
}

/**
 * §4.3: a <domain> that is malformed (label over 63 octets, empty label not at the end, …) or not
 * multi-label gives "none". Domain literals (`[192.0.2.1]`) and IP addresses are not domains.
 */
export function malformedDomain(domain: string): string | null {
  const name = stripDot(domain);
  if (name.length === 0 || name.length > 253) return `"${domain}" is empty or longer than 253 characters`;
  const labels = name.split('.');
  if (labels.length < 2) return `"${domain}" is not a multi-label domain name`;
  for (const label of labels) {
    if (label.length === 0) return `"${domain}" has an empty label`;
    if (label.length > 63) return `"${domain}" has a label longer than 63 characters`;
    if (!/^[A-Za-z0-9_-]+$/.test(label)) return `"${domain}" has a label with characters not allowed in a host name`;
  }
  if (/^[0-9]+$/.test(labels[labels.length - 1]!)) return `"${domain}" is an address, not a domain name`;
  return null;
}

/** A target-name built by macro expansion must still be a queryable name (§4.8). */
function malformedTarget(name: string): string | null {
  if (name.length === 0) return 'the target name is empty';
  for (const label of name.split('.')) {
    if (label.length === 0) return `target "${name}" has an empty label`;
    if (Buffer.byteLength(label) > 63) return `target "${name}" has a label longer than 63 octets`;
  }
  return null;
}

async function query<T extends DnsRecordType>(s: State, name: string, type: T): Promise<DnsResult<T>> {
  return s.resolver.lookup(stripDot(name), type);
}

function countLookup(s: State, term: string): void {
  s.lookups += 1;
  if (s.lookups > s.limits.lookups) {
    throw new SpfAbort('permerror', `"${term}" exceeds the limit of ${s.limits.lookups} DNS-querying terms (RFC 7208 §4.6.4)`);
  }
}

function countVoid(s: State, term: string): void {
  s.voids += 1;
  if (s.voids > s.limits.voidLookups) {
    throw new SpfAbort('permerror', `"${term}" exceeds the limit of ${s.limits.voidLookups} void lookups (RFC 7208 §4.6.4)`);
  }
}

function dnsFailure(r: DnsResult<DnsRecordType>): string {
  return r.kind === 'error' ? `DNS ${r.failure} for ${r.name} ${r.type}: ${r.message}` : '';
}

/** Addresses of `name` in the client's family (§5: A for IPv4, AAAA for IPv6); error → temperror. */
async function addresses(s: State, name: string, family: IpFamily): Promise<IpAddress[] | 'void'> {
  const r = await query(s, name, family === 4 ? 'A' : 'AAAA');
  if (r.kind === 'error') throw new SpfAbort('temperror', dnsFailure(r));
  if (r.kind !== 'answer' || r.records.length === 0) return 'void';
  return r.records.map((a) => parseIp(a)).filter((a): a is IpAddress => a !== null && a.family === family);
}

interface PtrValidation {
  /** The PTR query's outcome: a void answer counts toward the void limit for the "ptr" term. */
  outcome: 'answer' | 'void' | 'error';
  names: string[];
}

/**
 * §5.5 validated names: PTR names of <ip> (at most `ptrNames`, the rest ignored per §4.6.4) whose
 * own addresses include <ip>. A DNS error on the PTR query means no names; an error on a name's
 * address query skips that name. Memoised: "ptr" terms and %{p} share one validation per check.
 */
function validatePtr(s: State): Promise<PtrValidation> {
  s.ptrCache ??= (async (): Promise<PtrValidation> => {
    const r = await query(s, reverseName(s.ip), 'PTR');
    if (r.kind === 'error') return { outcome: 'error', names: [] };
    if (r.kind !== 'answer' || r.records.length === 0) return { outcome: 'void', names: [] };
    const names: string[] = [];
    for (const name of r.records.slice(0, s.limits.ptrNames)) {
      const a = await query(s, name, s.ip.family === 4 ? 'A' : 'AAAA');
      if (a.kind !== 'answer') continue;
      const hit = a.records.some((x) => {
        const ip = parseIp(x);
        return ip !== null && ip.family === s.ip.family && ip.value === s.ip.value;
      });
      if (hit) names.push(stripDot(name).toLowerCase());
    }
    return { outcome: 'answer', names };
  })();
  return s.ptrCache;
}

function isSameOrSubdomain(name: string, target: string): boolean {
  const n = stripDot(name).toLowerCase();
  const t = stripDot(target).toLowerCase();
  return n === t || n.endsWith(`.${t}`);
}

function macroValues(s: State, domain: string): MacroValues {
  return {
    ...s.base,
    domain: stripDot(domain),
    // §7.3 %{p}: prefer <domain> itself, then a subdomain of it, then any validated name.
    validatedName: async () => {
      const { names } = await validatePtr(s);
      const d = stripDot(domain).toLowerCase();
      return names.find((n) => n === d) ?? names.find((n) => n.endsWith(`.${d}`)) ?? names[0] ?? 'unknown';
    },
  };
}

async function targetName(s: State, spec: MacroString | undefined, domain: string, term: string): Promise<string> {
  if (!spec) return stripDot(domain);
  const name = truncateDomain(await expandMacroString(spec, macroValues(s, domain)));
  const bad = malformedTarget(name);
  if (bad) throw new SpfAbort('permerror', `"${term}": ${bad}`);
  return name;
}

/** Evaluate one mechanism: true on match; DNS trouble and limits unwind as SpfAbort. */
async function matches(s: State, d: SpfDirective, domain: string): Promise<boolean> {
  const m = d.mechanism;
  switch (m.kind) {
    case 'all':
      return true;
    case 'ip4':
    case 'ip6':
      return networkContains(m.network, s.ip);
    case 'a': {
      countLookup(s, d.text);
      const target = await targetName(s, m.domain, domain, d.text);
      const found = await addresses(s, target, s.ip.family);
      if (found === 'void') {
        countVoid(s, d.text);
        return false;
      }
      const prefix = s.ip.family === 4 ? m.cidr4 : m.cidr6;
      return found.some((a) => networkContains(network(a.family, a.value, prefix), s.ip));
    }
    case 'mx': {
      countLookup(s, d.text);
      const target = await targetName(s, m.domain, domain, d.text);
      const r = await query(s, target, 'MX');
      if (r.kind === 'error') throw new SpfAbort('temperror', dnsFailure(r));
      if (r.kind !== 'answer' || r.records.length === 0) {
        countVoid(s, d.text);
        return false;
      }
      // §4.6.4: more than 10 MX names is a permerror; checked on the whole RRset because its order
      // is arbitrary, so stopping early would make the result depend on the DNS server.
      if (r.records.length > s.limits.mxHosts) {
        throw new SpfAbort(
          'permerror',
          `"${d.text}": ${target} has ${r.records.length} MX records, more than ${s.limits.mxHosts} (RFC 7208 §4.6.4)`,
        );
      }
      const prefix = s.ip.family === 4 ? m.cidr4 : m.cidr6;
      // §5.4: no implicit MX: a name without MX records does not fall back to its A records.
      for (const mx of [...r.records].sort((x, y) => x.priority - y.priority)) {
        if (stripDot(mx.exchange) === '') continue; // Null MX (RFC 7505) has no hosts.
        const found = await addresses(s, mx.exchange, s.ip.family);
        if (found !== 'void' && found.some((a) => networkContains(network(a.family, a.value, prefix), s.ip))) return true;
      }
      return false;
    }
    case 'ptr': {
      countLookup(s, d.text);
      const target = await targetName(s, m.domain, domain, d.text);
      const v = await validatePtr(s);
      if (v.outcome === 'void') countVoid(s, d.text);
      // §5.5: a DNS error on the PTR query means no match (not temperror).
      return v.names.some((n) => isSameOrSubdomain(n, target));
    }
    case 'exists': {
      countLookup(s, d.text);
      const target = await targetName(s, m.domain, domain, d.text);
      // §5.7: always an A query, whatever the client's address family.
      const r = await query(s, target, 'A');
      if (r.kind === 'error') throw new SpfAbort('temperror', dnsFailure(r));
      if (r.kind !== 'answer' || r.records.length === 0) {
        countVoid(s, d.text);
        return false;
      }
      return true;
    }
    case 'include': {
      countLookup(s, d.text);
      const target = await targetName(s, m.domain, domain, d.text);
      const inner = await evaluate(s, target, 'include');
      // §5.2: pass matches; fail/softfail/neutral do not; none is a permerror.
      if (inner.result === 'pass') return true;
      if (inner.result === 'none') {
        throw new SpfAbort('permerror', `"${d.text}": ${target} has no SPF record (RFC 7208 §5.2)`);
      }
      return false;
    }
    default: {
      const never: never = m;
      return never;
    }
  }
}

/** §6.2: fetch and expand the explanation; any problem means "as if no exp modifier was given". */
async function explain(s: State, record: SpfRecord, domain: string): Promise<string | undefined> {
  if (!record.exp) return undefined;
  const values = macroValues(s, domain);
  const target = truncateDomain(await expandMacroString(record.exp.value, values));
  if (malformedTarget(target)) return undefined;
  const r = await query(s, target, 'TXT');
  if (r.kind !== 'answer' || r.records.length !== 1) return undefined;
  const parsed = parseExplainString(r.records[0]!);
  if (typeof parsed === 'string') return undefined;
  return expandMacroString(parsed, values);
}

async function evaluate(s: State, domain: string, via: 'top' | 'include' | 'redirect'): Promise<EvalOutcome> {
  s.evaluations += 1;
  if (s.evaluations > MAX_EVALUATIONS) throw new SpfAbort('permerror', 'include/redirect nesting is too deep');
  const bad = malformedDomain(domain);
  if (bad) {
    s.trace.push(`${domain}: malformed domain (${bad})`);
    return { result: 'none', problem: bad };
  }
  const r = await query(s, domain, 'TXT');
  if (r.kind === 'error') throw new SpfAbort('temperror', dnsFailure(r));
  const spf = r.kind === 'answer' ? r.records.filter(isSpfRecord) : [];
  if (spf.length === 0) {
    s.trace.push(`${domain}: no SPF record (${r.kind})`);
    return { result: 'none', problem: `no SPF record at ${domain}` };
  }
  if (spf.length > 1) throw new SpfAbort('permerror', `${domain} publishes ${spf.length} SPF records (RFC 7208 §4.5)`);
  const text = spf[0]!;
  s.trace.push(`${domain}: record "${text}"`);
  const parsed = parseSpfRecord(text);
  if (!parsed.ok) {
    throw new SpfAbort(
      'permerror',
      `${domain}: syntax error at offset ${parsed.error.position} ("${parsed.error.term}"): ${parsed.error.message}`,
    );
  }
  const record = parsed.record;
  for (const d of record.directives) {
    let matched: boolean;
    try {
      matched = await matches(s, d, domain);
    } catch (e) {
      if (e instanceof SpfAbort) s.trace.push(`${domain}: ${d.text} → ${e.result} (${e.problem})`);
      throw e;
    }
    s.trace.push(`${domain}: ${d.text} → ${matched ? 'match' : 'no match'}`);
    if (!matched) continue;
    const result = QUALIFIER_RESULT[d.qualifier];
    const explanation = result === 'fail' && via !== 'include' ? await explain(s, record, domain) : undefined;
    return { result, mechanism: d.text, record: text, ...(explanation !== undefined ? { explanation } : {}) };
  }
  // §6.1: redirect applies only when nothing matched and the record has no "all".
  const hasAll = record.directives.some((d) => d.mechanism.kind === 'all');
  if (record.redirect && !hasAll) {
    const term = record.redirect.text;
    countLookup(s, term);
    const target = truncateDomain(await expandMacroString(record.redirect.value, macroValues(s, domain)));
    s.trace.push(`${domain}: ${term} → ${target}`);
    const inner = await evaluate(s, target, 'redirect');
    // §6.1: no record at the target, or a malformed target, is a permerror rather than none.
    if (inner.result === 'none') throw new SpfAbort('permerror', `"${term}": ${inner.problem ?? 'no SPF record'}`);
    return { ...inner, record: text };
  }
  s.trace.push(`${domain}: no term matched → neutral`);
  return { result: 'neutral', record: text };
}

function splitSender(sender: string, domain: string): { sender: string; local: string; senderDomain: string } {
  const at = sender.lastIndexOf('@');
  const senderDomain = stripDot(at < 0 ? sender || domain : sender.slice(at + 1));
  // §4.3: a sender without a local-part uses "postmaster".
  const local = at <= 0 ? 'postmaster' : sender.slice(0, at);
  return { sender: `${local}@${senderDomain}`, local, senderDomain };
}

/** RFC 7208 §4 check_host(<ip>, <domain>, <sender>). Never throws for DNS or record problems. */
export async function checkHost(input: CheckHostInput, deps: SpfDeps): Promise<SpfCheckResult> {
  const limits: SpfLimits = { ...defaultSpfLimits, ...deps.limits };
  const ip = parseIp(input.ip.trim());
  const base = { domain: input.domain, lookups: 0, voidLookups: 0 };
  if (!ip) {
    return { ...base, result: 'permerror', problem: `"${input.ip}" is not an IP address`, trace: [] };
  }
  const state: State = {
    resolver: deps.resolver,
    limits,
    ip,
    base: {
      ...splitSender(input.sender, input.domain),
      ip,
      helo: input.helo ?? '',
      receiver: deps.receiver ?? 'unknown',
      timestamp: Math.floor((deps.clock ?? systemClock).now() / 1000),
    },
    lookups: 0,
    voids: 0,
    evaluations: 0,
    trace: [`check_host(${formatIp(ip)}, ${input.domain}, ${input.sender})`],
  };
  try {
    const out = await evaluate(state, input.domain, 'top');
    return { ...out, domain: input.domain, lookups: state.lookups, voidLookups: state.voids, trace: state.trace };
  } catch (e) {
    if (!(e instanceof SpfAbort)) throw e;
    state.trace.push(`→ ${e.result}: ${e.problem}`);
    return {
      result: e.result,
      problem: e.problem,
      domain: input.domain,
      lookups: state.lookups,
      voidLookups: state.voids,
      trace: state.trace,
    };
  }
}

export interface SpfIdentityInput {
  ip: string;
  /** MAIL FROM address; empty for the null reverse-path (bounces). */
  mailFrom: string;
  helo: string;
}

/**
 * The MAIL FROM identity check as a receiver runs it (RFC 7208 §2.4): a null reverse-path is
 * checked as postmaster@<HELO>; a MAIL FROM without "@" is taken as a domain.
 */
export async function checkSpf(input: SpfIdentityInput, deps: SpfDeps): Promise<SpfCheckResult & { identity: 'mailfrom' | 'helo' }> {
  const mailFrom = input.mailFrom.trim().replace(/^<|>$/g, '');
  if (mailFrom === '') {
    const r = await checkHost({ ip: input.ip, domain: input.helo, sender: `postmaster@${input.helo}`, helo: input.helo }, deps);
    return { ...r, identity: 'helo' };
  }
  const at = mailFrom.lastIndexOf('@');
  const domain = at < 0 ? mailFrom : mailFrom.slice(at + 1);
  const r = await checkHost({ ip: input.ip, domain, sender: mailFrom, helo: input.helo }, deps);
  return { ...r, identity: 'mailfrom' };
}
