import type { Resolver } from '../dns/index.js';
import { finding, type IdentityFinding } from './finding.js';
import { checkHost, type SpfResultCode } from './spf.js';
import { truncateDomain } from './spf-macro.js';
import { isSpfRecord, type MacroString, parseSpfRecord, type SpfRecord, type SpfSyntaxError } from './spf-record.js';

/**
 * Analysis of a domain's *published* SPF record, as an operator needs it before a receiver finds
 * the problem: the worst-case DNS cost of each term (RFC 7208 §4.6.4 counts every include, a, mx,
 * ptr, exists and redirect, recursively), void lookups, size against the 255-byte character-string
 * and 512-byte UDP limits, risky qualifiers, and whether the platform's sending IPs pass.
 */
export type SpfFetch =
  | { kind: 'record'; text: string; record: SpfRecord; allTxtBytes: number[] }
  | { kind: 'none'; reason: string }
  | { kind: 'multiple'; records: string[] }
  | { kind: 'syntax'; text: string; error: SpfSyntaxError }
  | { kind: 'error'; message: string };

export async function fetchSpfRecord(resolver: Resolver, domain: string): Promise<SpfFetch> {
  const r = await resolver.lookup(domain, 'TXT');
  if (r.kind === 'error') return { kind: 'error', message: `DNS ${r.failure} for ${domain} TXT: ${r.message}` };
  if (r.kind !== 'answer') return { kind: 'none', reason: r.kind };
  const spf = r.records.filter(isSpfRecord);
  if (spf.length === 0) return { kind: 'none', reason: 'no v=spf1 record among the TXT records' };
  if (spf.length > 1) return { kind: 'multiple', records: spf };
  const parsed = parseSpfRecord(spf[0]!);
  if (!parsed.ok) return { kind: 'syntax', text: spf[0]!, error: parsed.error };
  return { kind: 'record', text: spf[0]!, record: parsed.record, allTxtBytes: r.records.map((t) => Buffer.byteLength(t)) };
}

/**
 * A domain-spec that uses only %{d} and %{o} can be expanded without a message; anything else
 * (sender, IP, HELO) depends on the message and is reported as such. Returns null when dynamic.
 */
export function staticTarget(spec: MacroString | undefined, domain: string, senderDomain: string): string | null {
  if (!spec) return domain;
  let out = '';
  for (const t of spec.tokens) {
    if (t.kind === 'literal') {
      out += t.text;
      continue;
    }
    if ((t.letter !== 'd' && t.letter !== 'o') || t.escape || t.digits !== undefined || t.reverse || t.delimiters !== '.') return null;
    out += t.letter === 'd' ? domain : senderDomain;
  }
  return truncateDomain(out);
}

export interface SpfTermAnalysis {
  term: string;
  /** DNS-querying terms this term costs, including everything under it. */
  lookups: number;
  /** The term's own query returned NXDOMAIN or no records (RFC 7208 §4.6.4 void lookup). */
  void: boolean;
  note?: string;
  child?: SpfRecordAnalysis;
}

export interface SpfRecordAnalysis {
  domain: string;
  record?: string;
  problem?: string;
  lookups: number;
  voidLookups: number;
  terms: SpfTermAnalysis[];
}

export interface SpfAnalysis {
  domain: string;
  record?: string;
  tree: SpfRecordAnalysis;
  /** Worst case: every term evaluated (no early match), as §4.6.4 must allow for. */
  totalLookups: number;
  voidLookups: number;
  size: {
    recordBytes: number;
    /** Character-strings of at most 255 bytes needed to publish the record (RFC 7208 §3.3). */
    strings: number;
    /** Estimated DNS response size for the TXT RRset at the domain (all TXT records, not just SPF). */
    responseBytes: number;
  };
  platform: { ip: string; result: SpfResultCode; mechanism?: string }[];
  findings: IdentityFinding[];
}

export interface SpfAnalysisOptions {
  resolver: Resolver;
  /** The platform's sending IPs; each is checked with check_host() against the domain. */
  platformIps?: string[];
  /** Records visited at most (includes of includes…), a bound on work for hostile records. */
  maxRecords?: number;
}

interface WalkState {
  resolver: Resolver;
  top: string;
  visited: number;
  maxRecords: number;
  /** The top record, fetched once for both the findings and the walk. */
  prefetched?: { domain: string; fetch: SpfFetch };
  findings: IdentityFinding[];
}

async function addressesVoid(resolver: Resolver, name: string): Promise<boolean> {
  const [a, aaaa] = await Promise.all([resolver.lookup(name, 'A'), resolver.lookup(name, 'AAAA')]);
  return a.kind !== 'answer' && aaaa.kind !== 'answer' && a.kind !== 'error' && aaaa.kind !== 'error';
}

async function walk(s: WalkState, domain: string, path: string[]): Promise<SpfRecordAnalysis> {
  const node: SpfRecordAnalysis = { domain, lookups: 0, voidLookups: 0, terms: [] };
  s.visited += 1;
  if (s.visited > s.maxRecords) {
    node.problem = `stopped after ${s.maxRecords} records`;
    return node;
  }
  const fetched = s.prefetched?.domain === domain ? s.prefetched.fetch : await fetchSpfRecord(s.resolver, domain);
  if (fetched.kind !== 'record') {
    node.problem =
      fetched.kind === 'none'
        ? `no SPF record (${fetched.reason})`
        : fetched.kind === 'multiple'
          ? `${fetched.records.length} SPF records`
          : fetched.kind === 'syntax'
            ? `syntax error at offset ${fetched.error.position}: ${fetched.error.message}`
            : fetched.message;
    return node;
  }
  node.record = fetched.text;
  const rec = fetched.record;
  const hasAll = rec.directives.some((d) => d.mechanism.kind === 'all');
  for (const t of rec.terms) {
    if (t.type === 'modifier') {
      if (t.name !== 'redirect') continue;
      const entry: SpfTermAnalysis = { term: t.text, lookups: 0, void: false };
      node.terms.push(entry);
      if (hasAll) {
        entry.note = 'ignored: the record has an "all" mechanism (RFC 7208 §6.1)';
        continue;
      }
      entry.lookups = 1;
      await descend(s, entry, staticTarget(t.value, domain, s.top), path);
      continue;
    }
    const m = t.mechanism;
    const entry: SpfTermAnalysis = { term: t.text, lookups: 0, void: false };
    node.terms.push(entry);
    switch (m.kind) {
      case 'all':
      case 'ip4':
      case 'ip6':
        break;
      case 'include':
        entry.lookups = 1;
        await descend(s, entry, staticTarget(m.domain, domain, s.top), path);
        break;
      case 'a':
      case 'exists': {
        entry.lookups = 1;
        const target = staticTarget(m.domain, domain, s.top);
        if (target === null) entry.note = 'target depends on the message (macros)';
        else if (m.kind === 'a') entry.void = await addressesVoid(s.resolver, target);
        else {
          const r = await s.resolver.lookup(target, 'A');
          entry.void = r.kind === 'nxdomain' || r.kind === 'nodata';
        }
        break;
      }
      case 'mx': {
        entry.lookups = 1;
        const target = staticTarget(m.domain, domain, s.top);
        if (target === null) {
          entry.note = 'target depends on the message (macros)';
          break;
        }
        const r = await s.resolver.lookup(target, 'MX');
        entry.void = r.kind === 'nxdomain' || r.kind === 'nodata';
        if (r.kind === 'answer' && r.records.length > 10) {
          s.findings.push(
            finding(
              'spf.mx-too-many-hosts',
              'error',
              `"${t.text}" in ${domain} names ${r.records.length} MX hosts; more than 10 is a permerror (RFC 7208 §4.6.4).`,
              { domain, term: t.text, hosts: r.records.map((x) => x.exchange) },
            ),
          );
        }
        entry.note = r.kind === 'answer' ? `${r.records.length} MX host(s), each an address lookup` : undefined;
        break;
      }
      case 'ptr':
        entry.lookups = 1;
        entry.note = 'ptr is slow and unreliable; RFC 7208 §5.5 says do not use it';
        break;
      default: {
        const never: never = m;
        return never;
      }
    }
  }
  node.lookups = node.terms.reduce((n, e) => n + e.lookups, 0);
  node.voidLookups = node.terms.reduce((n, e) => n + (e.void ? 1 : 0) + (e.child?.voidLookups ?? 0), 0);
  return node;
}

async function descend(s: WalkState, entry: SpfTermAnalysis, target: string | null, path: string[]): Promise<void> {
  if (target === null) {
    entry.note = 'target depends on the message (macros)';
    return;
  }
  const key = target.toLowerCase();
  if (path.includes(key)) {
    entry.note = 'loop';
    s.findings.push(
      finding('spf.loop', 'error', `"${entry.term}" leads back to ${target}; evaluation ends in a permerror.`, { path: [...path, key] }),
    );
    return;
  }
  const child = await walk(s, target, [...path, key]);
  entry.child = child;
  entry.lookups += child.lookups;
  if (!child.record) {
    entry.void = /nxdomain|nodata/.test(child.problem ?? '');
    s.findings.push(
      finding(
        'spf.target-without-record',
        'error',
        `"${entry.term}" points at ${target}, which has no usable SPF record (${child.problem}); receivers return permerror (RFC 7208 §5.2, §6.1).`,
        { term: entry.term, target, problem: child.problem },
      ),
    );
  }
}

/** DNS response size: header, question, one RR per TXT record with its 255-byte strings (RFC 1035 §4.1). */
function responseSize(domain: string, txtBytes: number[]): number {
  const qname = domain.split('.').reduce((n, l) => n + 1 + Buffer.byteLength(l), 1);
  const answers = txtBytes.reduce((n, b) => n + 12 + b + Math.max(1, Math.ceil(b / 255)), 0);
  return 12 + qname + 4 + answers;
}

function recordFindings(domain: string, rec: SpfRecord, text: string, out: IdentityFinding[]): void {
  const all = rec.directives.find((d) => d.mechanism.kind === 'all');
  if (all?.qualifier === '+') {
    out.push(
      finding('spf.plus-all', 'error', `${domain} ends with "${all.text}": every host on the internet passes.`, {
        term: all.text,
        record: text,
      }),
    );
  } else if (all?.qualifier === '?') {
    out.push(
      finding('spf.neutral-all', 'warning', `${domain} ends with "?all": unlisted hosts get neutral, which protects nothing.`, {
        term: all.text,
        record: text,
      }),
    );
  } else if (!all && !rec.redirect) {
    out.push(
      finding('spf.missing-all', 'warning', `${domain} has no "all" and no redirect: unlisted hosts get neutral (RFC 7208 §4.7).`, {
        record: text,
      }),
    );
  }
  if (all && rec.redirect) {
    out.push(
      finding(
        'spf.redirect-ignored',
        'warning',
        `${domain} has both "all" and "${rec.redirect.text}"; the redirect is ignored (RFC 7208 §6.1).`,
        { record: text },
      ),
    );
  }
  const allIndex = rec.directives.findIndex((d) => d.mechanism.kind === 'all');
  if (allIndex >= 0 && allIndex < rec.directives.length - 1) {
    out.push(
      finding('spf.terms-after-all', 'warning', `${domain} has terms after "${all!.text}" that are never evaluated.`, {
        ignored: rec.directives.slice(allIndex + 1).map((d) => d.text),
      }),
    );
  }
  const ptr = rec.directives.filter((d) => d.mechanism.kind === 'ptr');
  if (ptr.length > 0) {
    out.push(
      finding(
        'spf.ptr',
        'warning',
        `${domain} uses "ptr", which RFC 7208 §5.5 says not to use (slow, unreliable, many receivers skip it).`,
        { terms: ptr.map((d) => d.text) },
      ),
    );
  }
  const seen = new Map<string, number>();
  for (const d of rec.directives) {
    const key = d.text.replace(/^[+\-~?]/, '').toLowerCase();
    seen.set(key, (seen.get(key) ?? 0) + 1);
  }
  const dups = [...seen].filter(([, n]) => n > 1).map(([k]) => k);
  if (dups.length > 0) {
    out.push(
      finding(
        'spf.duplicate-mechanism',
        'warning',
        `${domain} repeats ${dups.map((d) => `"${d}"`).join(', ')}; duplicates cost lookups or bytes for nothing.`,
        { duplicates: dups },
      ),
    );
  }
}

/** The lookup tree of a domain's record alone (no findings about it), for cost estimates. */
export async function walkSpf(resolver: Resolver, domain: string, maxRecords = 50): Promise<SpfRecordAnalysis> {
  return walk({ resolver, top: domain, visited: 0, maxRecords, findings: [] }, domain, [domain.toLowerCase()]);
}

export async function analyseSpf(domain: string, options: SpfAnalysisOptions): Promise<SpfAnalysis> {
  const findings: IdentityFinding[] = [];
  const top = await fetchSpfRecord(options.resolver, domain);
  const s: WalkState = {
    resolver: options.resolver,
    top: domain,
    visited: 0,
    maxRecords: options.maxRecords ?? 50,
    findings,
    prefetched: { domain, fetch: top },
  };
  const tree = await walk(s, domain, [domain.toLowerCase()]);
  const recordBytes = top.kind === 'record' ? Buffer.byteLength(top.text) : 0;
  const responseBytes = top.kind === 'record' ? responseSize(domain, top.allTxtBytes) : 0;
  switch (top.kind) {
    case 'none':
      findings.push(finding('spf.missing', 'error', `${domain} publishes no SPF record; receivers get "none".`, { reason: top.reason }));
      break;
    case 'multiple':
      findings.push(
        finding(
          'spf.multiple-records',
          'error',
          `${domain} publishes ${top.records.length} SPF records; receivers return permerror (RFC 7208 §4.5).`,
          { records: top.records },
        ),
      );
      break;
    case 'syntax':
      findings.push(
        finding(
          'spf.syntax',
          'error',
          `${domain}'s record has a syntax error at offset ${top.error.position} ("${top.error.term}"): ${top.error.message}.`,
          { record: top.text, ...top.error },
        ),
      );
      break;
    case 'error':
      findings.push(
        finding('spf.dns-error', 'warning', `Could not read ${domain}'s SPF record: ${top.message}.`, { message: top.message }),
      );
      break;
    case 'record':
      recordFindings(domain, top.record, top.text, findings);
      break;
  }
  if (tree.lookups > 10) {
    findings.push(
      finding(
        'spf.lookup-limit',
        'error',
        `${domain} needs ${tree.lookups} DNS-querying terms; more than 10 is a permerror (RFC 7208 §4.6.4).`,
        { lookups: tree.lookups },
      ),
    );
  } else if (tree.lookups >= 8) {
    findings.push(
      finding(
        'spf.lookup-near-limit',
        'warning',
        `${domain} needs ${tree.lookups} of the 10 allowed DNS-querying terms; one more provider include may break it.`,
        { lookups: tree.lookups },
      ),
    );
  }
  if (tree.voidLookups > 2) {
    findings.push(
      finding(
        'spf.void-limit',
        'error',
        `${domain} has ${tree.voidLookups} terms whose lookups return nothing; more than 2 is a permerror (RFC 7208 §4.6.4).`,
        { voidLookups: tree.voidLookups },
      ),
    );
  }
  const strings = Math.max(1, Math.ceil(recordBytes / 255));
  if (recordBytes > 255) {
    findings.push(
      finding(
        'spf.multi-string',
        'info',
        `${domain}'s record is ${recordBytes} bytes, so it must be published as ${strings} character-strings of at most 255 bytes, joined without spaces (RFC 7208 §3.3).`,
        { recordBytes, strings },
      ),
    );
  }
  if (responseBytes > 512) {
    findings.push(
      finding(
        'spf.udp-512',
        'warning',
        `The TXT answer for ${domain} is about ${responseBytes} bytes, over the classic 512-byte UDP limit; receivers must retry over TCP or EDNS, and some fail (RFC 7208 §3.4).`,
        { responseBytes },
      ),
    );
  }
  const platform: SpfAnalysis['platform'] = [];
  for (const ip of options.platformIps ?? []) {
    const r = await checkHost({ ip, domain, sender: `postmaster@${domain}` }, { resolver: options.resolver });
    platform.push({ ip, result: r.result, ...(r.mechanism ? { mechanism: r.mechanism } : {}) });
    if (r.result !== 'pass') {
      findings.push(
        finding(
          'spf.platform-ip-not-authorized',
          'error',
          `Platform IP ${ip} gets "${r.result}" from ${domain}'s SPF record; add the platform's include.`,
          { ip, result: r.result, problem: r.problem },
        ),
      );
    }
  }
  return {
    domain,
    ...(top.kind === 'record' || top.kind === 'syntax' ? { record: top.text } : {}),
    tree,
    totalLookups: tree.lookups,
    voidLookups: tree.voidLookups,
    size: { recordBytes, strings, responseBytes },
    platform,
    findings,
  };
}
