import { getDomain } from 'tldts';
import type { Resolver } from '../dns/index.js';
import { type DmarcRecord, isDmarcRecord, parseDmarcRecord } from './dmarc-record.js';

/**
 * Organizational domains, two ways:
 * - `psl` (RFC 7489 §3.2): the public suffix plus one label, from the Public Suffix List (tldts,
 *   ICANN and private sections, so `alice.github.io` is its own organization). Pure.
 * - `tree-walk` (DMARCbis): walk `_dmarc.<name>` up the tree, at most 8 queries (labels are
 *   dropped from the left, jumping straight to the 7 rightmost when there are 8 or more), and let
 *   `psd=` flags mark the boundary. When the walk finds no record at all it says nothing about the
 *   boundary, so we fall back to the PSL and say so.
 */
export type OrgDomainMethod = 'psl' | 'tree-walk';

function clean(domain: string): string {
  return domain.trim().toLowerCase().replace(/\.$/, '');
}

/** RFC 7489 §3.2 with the PSL; a public suffix (or unknown single label) is its own org domain. */
export function organizationalDomainByPsl(domain: string): string {
  const d = clean(domain);
  return getDomain(d, { allowPrivateDomains: true }) ?? d;
}

/**
 * The names a DMARCbis tree walk queries, in order: the domain itself, then one label less each
 * step, except that a name of 8 or more labels jumps to its 7 rightmost labels. At most 8 names.
 */
export function treeWalkNames(domain: string): string[] {
  const labels = clean(domain).split('.').filter(Boolean);
  const names: string[] = [];
  if (labels.length === 0) return names;
  let current = labels;
  names.push(current.join('.'));
  while (current.length > 1) {
    current = current.length >= 8 ? current.slice(current.length - 7) : current.slice(1);
    names.push(current.join('.'));
  }
  return names;
}

export type DmarcLookupOutcome = 'record' | 'none' | 'multiple' | 'nxdomain' | 'nodata' | 'error';

export interface DmarcLookup {
  /** The domain whose `_dmarc` name was queried. */
  domain: string;
  outcome: DmarcLookupOutcome;
  record?: DmarcRecord;
  text?: string;
  detail?: string;
}

/** Query `_dmarc.<domain>` and keep exactly one `v=DMARC1` record (several are all discarded). */
export async function lookupDmarc(resolver: Resolver, domain: string): Promise<DmarcLookup> {
  const r = await resolver.lookup(`_dmarc.${domain}`, 'TXT');
  if (r.kind === 'error') return { domain, outcome: 'error', detail: `DNS ${r.failure}: ${r.message}` };
  if (r.kind !== 'answer') return { domain, outcome: r.kind };
  const dmarc = r.records.filter(isDmarcRecord);
  if (dmarc.length === 0) return { domain, outcome: 'none', detail: 'TXT records without v=DMARC1' };
  if (dmarc.length > 1) return { domain, outcome: 'multiple', detail: `${dmarc.length} DMARC records; all discarded` };
  const parsed = parseDmarcRecord(dmarc[0]!);
  if (!parsed.ok) return { domain, outcome: 'none', detail: parsed.issues[0]?.message };
  return { domain, outcome: 'record', record: parsed.record, text: dmarc[0]! };
}

/** Memoised `_dmarc` lookups, so policy discovery and the org-domain walk share queries. */
export type DmarcLookupCache = Map<string, Promise<DmarcLookup>>;

export function cachedLookupDmarc(resolver: Resolver, cache: DmarcLookupCache, domain: string): Promise<DmarcLookup> {
  let hit = cache.get(domain);
  if (!hit) {
    hit = lookupDmarc(resolver, domain);
    cache.set(domain, hit);
  }
  return hit;
}

export interface OrgDomainResult {
  domain: string;
  orgDomain: string;
  method: OrgDomainMethod | 'psl-fallback';
  /** Every `_dmarc` query the walk made, in order (evidence). */
  lookups: DmarcLookup[];
  /** Set when a DNS error interrupted the walk; the result is then the PSL answer. */
  temperror?: string;
}

export interface OrgDomainOptions {
  method: OrgDomainMethod;
  resolver?: Resolver;
  cache?: DmarcLookupCache;
}

/**
 * DMARCbis organizational domain by tree walk: the first record with psd=n is the org domain; the
 * first with psd=y makes the name one label below it the org domain; without psd flags, the
 * record with the fewest labels wins.
 */
export async function organizationalDomain(domain: string, options: OrgDomainOptions): Promise<OrgDomainResult> {
  const d = clean(domain);
  if (options.method === 'psl' || !options.resolver) {
    return { domain: d, orgDomain: organizationalDomainByPsl(d), method: 'psl', lookups: [] };
  }
  const cache = options.cache ?? new Map();
  const labels = d.split('.');
  const lookups: DmarcLookup[] = [];
  let shortest: string | undefined;
  for (const name of treeWalkNames(d)) {
    const found = await cachedLookupDmarc(options.resolver, cache, name);
    lookups.push(found);
    if (found.outcome === 'error') {
      return { domain: d, orgDomain: organizationalDomainByPsl(d), method: 'psl-fallback', lookups, temperror: found.detail };
    }
    if (found.outcome !== 'record') continue;
    const psd = found.record!.psd;
    if (psd === 'n') return { domain: d, orgDomain: name, method: 'tree-walk', lookups };
    if (psd === 'y') {
      const count = name.split('.').length;
      // A PSD's own mail has no name below it; then the domain is its own organization.
      const below = count >= labels.length ? d : labels.slice(labels.length - count - 1).join('.');
      return { domain: d, orgDomain: below, method: 'tree-walk', lookups };
    }
    shortest = name;
  }
  if (shortest) return { domain: d, orgDomain: shortest, method: 'tree-walk', lookups };
  return { domain: d, orgDomain: organizationalDomainByPsl(d), method: 'psl-fallback', lookups };
}
