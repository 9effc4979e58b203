import type { Resolver } from '../dns/index.js';
import { finding, type IdentityFinding } from './finding.js';
import { aggregateNetworks, formatNetwork, type IpNetwork, network, networkTerm, parseIp, parseNetwork } from './ip-network.js';
import { fetchSpfRecord, staticTarget, walkSpf } from './spf-analysis.js';
import type { SpfDirective, SpfQualifier } from './spf-record.js';

/**
 * SPF flattening: replace provider includes (each a DNS-querying term, RFC 7208 §4.6.4) with the
 * ip4/ip6 networks they resolve to, packed into chained records `_spf1.<domain>`, `_spf2.<domain>`…
 * that the root includes. Only what keeps the meaning is flattened: "+" terms before the first
 * non-pass term, and sources made only of "+" ip4/ip6/a/mx/include terms. The rest is kept and
 * said why. A source that cannot be resolved makes the proposal incomplete and publishes nothing:
 * flattening without it would silently de-authorise its hosts.
 */
export interface FlattenOptions {
  resolver: Resolver;
  /** Chained record names are `<prefix><n>.<domain>` (default `_spf`). */
  prefix?: string;
  /** Bytes per chained record; 450 keeps the answer under 512-byte UDP with headroom. */
  maxRecordBytes?: number;
  /** RFC 7208 §3.3: each character-string holds at most 255 bytes. */
  maxStringBytes?: number;
  /** Include targets to keep as includes (providers that change addresses often). */
  keep?: string[];
}

export interface PublishTxtRecord {
  name: string;
  type: 'TXT';
  value: string;
  /** The character-strings to publish, each within `maxStringBytes`, joined without spaces. */
  strings: string[];
  purpose: string;
}

export interface FlattenSource {
  term: string;
  networks: string[];
}

export interface SpfFlattening {
  domain: string;
  complete: boolean;
  networks: string[];
  sources: FlattenSource[];
  kept: { term: string; reason: string }[];
  /** Root record first, then the chained records; empty when incomplete. */
  records: PublishTxtRecord[];
  /** DNS-querying terms the proposed root costs (chained parts plus what was kept). */
  lookups: number;
  findings: IdentityFinding[];
}

type Collected = { ok: true; networks: IpNetwork[]; all?: SpfQualifier } | { ok: false; reason: string; transient: boolean };

const MAX_DEPTH = 10;

async function addressNetworks(resolver: Resolver, name: string, cidr4: number, cidr6: number): Promise<IpNetwork[] | string> {
  const out: IpNetwork[] = [];
  for (const type of ['A', 'AAAA'] as const) {
    const r = await resolver.lookup(name, type);
    if (r.kind === 'error') return `DNS ${r.failure} for ${name} ${type}`;
    if (r.kind !== 'answer') continue;
    for (const text of r.records) {
      const ip = parseIp(text);
      if (ip) out.push(network(ip.family, ip.value, ip.family === 4 ? cidr4 : cidr6));
    }
  }
  return out;
}

/** Networks a "+" directive authorises, or why it cannot be flattened. */
async function directiveNetworks(resolver: Resolver, d: SpfDirective, domain: string, top: string, depth: number): Promise<Collected> {
  const m = d.mechanism;
  if (d.qualifier !== '+') return { ok: false, reason: `"${d.text}" is not a pass term`, transient: false };
  switch (m.kind) {
    case 'ip4':
    case 'ip6':
      return { ok: true, networks: [m.network] };
    case 'a':
    case 'mx': {
      const target = staticTarget(m.domain, domain, top);
      if (target === null) return { ok: false, reason: `"${d.text}" depends on the message (macros)`, transient: false };
      if (m.kind === 'a') {
        const nets = await addressNetworks(resolver, target, m.cidr4, m.cidr6);
        return typeof nets === 'string' ? { ok: false, reason: nets, transient: true } : { ok: true, networks: nets };
      }
      const mx = await resolver.lookup(target, 'MX');
      if (mx.kind === 'error') return { ok: false, reason: `DNS ${mx.failure} for ${target} MX`, transient: true };
      const networks: IpNetwork[] = [];
      for (const host of mx.kind === 'answer' ? mx.records : []) {
        if (host.exchange === '' || host.exchange === '.') continue;
        const nets = await addressNetworks(resolver, host.exchange, m.cidr4, m.cidr6);
        if (typeof nets === 'string') return { ok: false, reason: nets, transient: true };
        networks.push(...nets);
      }
      return { ok: true, networks };
    }
    case 'include': {
      const target = staticTarget(m.domain, domain, top);
      if (target === null) return { ok: false, reason: `"${d.text}" depends on the message (macros)`, transient: false };
      const inner = await collect(resolver, target, top, depth + 1);
      return inner.ok ? { ok: true, networks: inner.networks } : inner;
    }
    case 'all':
      return { ok: true, networks: [] };
    case 'exists':
    case 'ptr':
      return { ok: false, reason: `"${d.text}" cannot be expressed as addresses`, transient: false };
    default: {
      const never: never = m;
      return never;
    }
  }
}

/** A whole record's pass networks (as an include or redirect target sees them). */
async function collect(resolver: Resolver, domain: string, top: string, depth: number): Promise<Collected> {
  if (depth > MAX_DEPTH) return { ok: false, reason: `more than ${MAX_DEPTH} nested records (a loop?)`, transient: false };
  const fetched = await fetchSpfRecord(resolver, domain);
  if (fetched.kind === 'error') return { ok: false, reason: fetched.message, transient: true };
  if (fetched.kind !== 'record') return { ok: false, reason: `${domain} has no usable SPF record (${fetched.kind})`, transient: false };
  const networks: IpNetwork[] = [];
  for (const d of fetched.record.directives) {
    if (d.mechanism.kind === 'all') return { ok: true, networks, all: d.qualifier };
    const got = await directiveNetworks(resolver, d, domain, top, depth);
    if (!got.ok) return got;
    networks.push(...got.networks);
  }
  const redirect = fetched.record.redirect;
  if (!redirect) return { ok: true, networks };
  const target = staticTarget(redirect.value, domain, top);
  if (target === null) return { ok: false, reason: `"${redirect.text}" depends on the message (macros)`, transient: false };
  const inner = await collect(resolver, target, top, depth + 1);
  return inner.ok ? { ok: true, networks: [...networks, ...inner.networks], all: inner.all } : inner;
}

/** Split a TXT value into character-strings at term boundaries (the space starts the next one). */
export function splitTxtStrings(value: string, maxBytes = 255): string[] {
  const out: string[] = [];
  let current = '';
  for (const piece of value.split(/(?= )/)) {
    if (current && Buffer.byteLength(current + piece) > maxBytes) {
      out.push(current);
      current = '';
    }
    current += piece;
    while (Buffer.byteLength(current) > maxBytes) {
      out.push(current.slice(0, maxBytes));
      current = current.slice(maxBytes);
    }
  }
  if (current) out.push(current);
  return out;
}

function txt(name: string, value: string, maxStringBytes: number, purpose: string): PublishTxtRecord {
  return { name, type: 'TXT', value, strings: splitTxtStrings(value, maxStringBytes), purpose };
}

export async function proposeFlattening(domain: string, options: FlattenOptions): Promise<SpfFlattening> {
  const { resolver } = options;
  const prefix = options.prefix ?? '_spf';
  const maxRecordBytes = options.maxRecordBytes ?? 450;
  const maxStringBytes = options.maxStringBytes ?? 255;
  const keep = new Set((options.keep ?? []).map((k) => k.toLowerCase()));
  const findings: IdentityFinding[] = [];
  const base: SpfFlattening = { domain, complete: false, networks: [], sources: [], kept: [], records: [], lookups: 0, findings };
  const root = await fetchSpfRecord(resolver, domain);
  if (root.kind !== 'record') {
    findings.push(
      finding('spf.flatten-no-record', 'error', `${domain} has no usable SPF record to flatten (${root.kind}).`, { kind: root.kind }),
    );
    return base;
  }
  const record = root.record;
  const flattened: IpNetwork[] = [];
  const flatIndex = new Set<number>();
  let keptLookups = 0;
  let barrier = false;
  let incomplete = false;
  const keepTerm = async (d: { text: string }, reason: string, queries: boolean, includeTarget?: string) => {
    base.kept.push({ term: d.text, reason });
    if (queries) keptLookups += 1 + (includeTarget ? (await walkSpf(resolver, includeTarget)).lookups : 0);
  };
  for (const [i, d] of record.directives.entries()) {
    const m = d.mechanism;
    if (m.kind === 'all') break; // terms after all are never evaluated (§5.1); all itself is re-emitted below
    const queries = m.kind !== 'ip4' && m.kind !== 'ip6';
    const target = m.kind === 'include' ? staticTarget(m.domain, domain, domain) : null;
    if (barrier || d.qualifier !== '+') {
      // Order matters once a non-pass term appears: everything from it on stays as written.
      barrier = true;
      await keepTerm(d, d.qualifier !== '+' ? 'not a pass term' : 'follows a non-pass term; order matters', queries, target ?? undefined);
      continue;
    }
    if (target && keep.has(target.toLowerCase())) {
      await keepTerm(d, 'kept by request', true, target);
      continue;
    }
    const got = await directiveNetworks(resolver, d, domain, domain, 0);
    if (!got.ok) {
      if (got.transient) {
        incomplete = true;
        findings.push(
          finding(
            'spf.flatten-source-unresolved',
            'error',
            `Could not resolve "${d.text}": ${got.reason}; no proposal until it resolves.`,
            { term: d.text, reason: got.reason },
          ),
        );
      }
      await keepTerm(d, got.reason, queries, target ?? undefined);
      continue;
    }
    flatIndex.add(i);
    flattened.push(...got.networks);
    base.sources.push({ term: d.text, networks: aggregateNetworks(got.networks).map(formatNetwork) });
  }
  const hasAll = record.directives.some((d) => d.mechanism.kind === 'all');
  let finalAll = record.directives.find((d) => d.mechanism.kind === 'all')?.text;
  let keptRedirect: string | undefined;
  if (record.redirect && !hasAll) {
    const target = staticTarget(record.redirect.value, domain, domain);
    const got = target === null ? null : await collect(resolver, target, domain, 1);
    if (got?.ok) {
      flattened.push(...got.networks);
      base.sources.push({ term: record.redirect.text, networks: aggregateNetworks(got.networks).map(formatNetwork) });
      finalAll = got.all ? `${got.all}all` : undefined;
      flatIndex.add(-1);
    } else {
      if (got?.transient) incomplete = true;
      keptRedirect = record.redirect.text;
      await keepTerm(record.redirect, got ? got.reason : 'depends on the message (macros)', true, target ?? undefined);
    }
  }
  const networks = aggregateNetworks(flattened);
  base.networks = networks.map(formatNetwork);
  // Pack the network terms into chained records within the byte budget.
  const parts: string[] = [];
  let current = 'v=spf1';
  for (const term of networks.map(networkTerm)) {
    if (Buffer.byteLength(`${current} ${term}`) > maxRecordBytes && current !== 'v=spf1') {
      parts.push(current);
      current = 'v=spf1';
    }
    current += ` ${term}`;
  }
  if (current !== 'v=spf1') parts.push(current);
  const partNames = parts.map((_, i) => `${prefix}${i + 1}.${domain}`);
  const rootTerms: string[] = [];
  let inserted = false;
  const insertParts = () => {
    if (!inserted) rootTerms.push(...partNames.map((n) => `include:${n}`));
    inserted = true;
  };
  for (const [i, d] of record.directives.entries()) {
    if (d.mechanism.kind === 'all') break;
    if (flatIndex.has(i)) insertParts();
    else rootTerms.push(d.text);
  }
  if (flatIndex.has(-1)) insertParts();
  if (keptRedirect) rootTerms.push(keptRedirect);
  else if (finalAll) rootTerms.push(finalAll);
  for (const t of record.terms) if (t.type === 'modifier' && t.name !== 'redirect') rootTerms.push(t.text);
  const rootValue = ['v=spf1', ...rootTerms].join(' ');
  base.lookups = parts.length + keptLookups;
  if (base.lookups > 10) {
    findings.push(
      finding(
        'spf.flatten-over-limit',
        'error',
        `The flattened record still needs ${base.lookups} DNS-querying terms (limit 10, RFC 7208 §4.6.4).`,
        { lookups: base.lookups },
      ),
    );
  }
  if (Buffer.byteLength(rootValue) > maxRecordBytes) {
    findings.push(
      finding(
        'spf.flatten-root-too-long',
        'warning',
        `The root record would be ${Buffer.byteLength(rootValue)} bytes, over the ${maxRecordBytes}-byte budget.`,
        { bytes: Buffer.byteLength(rootValue) },
      ),
    );
  }
  base.complete = !incomplete;
  if (!base.complete) return base;
  base.records = [
    txt(domain, rootValue, maxStringBytes, 'root SPF record: includes the flattened parts and keeps what could not be flattened'),
    ...parts.map((value, i) => txt(partNames[i]!, value, maxStringBytes, `flattened networks, part ${i + 1} of ${parts.length}`)),
  ];
  return base;
}

export interface FlattenDrift {
  added: string[];
  removed: string[];
  unchanged: number;
  changed: boolean;
}

/** Networks added to or removed from the sources since a proposal was published. */
export function compareFlattened(
  previous: readonly string[] | Pick<SpfFlattening, 'networks'>,
  current: readonly string[] | Pick<SpfFlattening, 'networks'>,
): FlattenDrift {
  const norm = (x: readonly string[] | Pick<SpfFlattening, 'networks'>): Set<string> => {
    const list = Array.isArray(x) ? x : (x as Pick<SpfFlattening, 'networks'>).networks;
    return new Set(aggregateNetworks(list.map(parseNetwork).filter((n): n is IpNetwork => n !== null)).map(formatNetwork));
  };
  const before = norm(previous);
  const after = norm(current);
  const added = [...after].filter((n) => !before.has(n));
  const removed = [...before].filter((n) => !after.has(n));
  return { added, removed, unchanged: [...after].filter((n) => before.has(n)).length, changed: added.length + removed.length > 0 };
}

/** Re-resolve the sources and report drift against the networks that were published. */
export async function checkFlattenedDrift(
  domain: string,
  published: readonly string[],
  options: FlattenOptions,
): Promise<FlattenDrift & { proposal: SpfFlattening; findings: IdentityFinding[] }> {
  const proposal = await proposeFlattening(domain, options);
  const drift = compareFlattened(published, proposal.networks);
  const findings = [...proposal.findings];
  if (proposal.complete && drift.changed) {
    findings.push(
      finding(
        'spf.flatten-drift',
        'warning',
        `The flattened sources of ${domain} changed: ${drift.added.length} network(s) added, ${drift.removed.length} removed; publish the new records.`,
        { added: drift.added, removed: drift.removed },
      ),
    );
  }
  return { ...drift, proposal, findings };
}
