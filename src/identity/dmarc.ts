import type { Resolver } from '../dns/index.js';
import { domainsAlign } from './alignment.js';
import type { AlignmentMode, DmarcIssue, DmarcPolicy, DmarcRecord, DmarcUri } from './dmarc-record.js';
import { isDmarcRecord, parseDmarcRecord } from './dmarc-record.js';
import {
  cachedLookupDmarc,
  type DmarcLookup,
  type DmarcLookupCache,
  type OrgDomainMethod,
  organizationalDomain,
  organizationalDomainByPsl,
  treeWalkNames,
} from './org-domain.js';

/**
 * DMARC policy discovery, report-destination authorization and evaluation. Discovery defaults to
 * the DMARCbis DNS tree walk; `psl` gives RFC 7489 §6.6.3 (the author domain, then its PSL
 * organizational domain). Results carry every query made, so a verdict can be explained.
 */
export interface DmarcPolicyDiscovery {
  domain: string;
  status: 'found' | 'none' | 'temperror';
  record?: DmarcRecord;
  /** Problems in the found record (positions are offsets in its text). */
  issues: DmarcIssue[];
  /** Where the record was found: the domain itself or an ancestor. */
  policyDomain?: string;
  orgDomain: string;
  orgDomainMethod: OrgDomainMethod | 'psl-fallback';
  /** The policy that applies to `domain`, and the tag it came from. */
  policy?: DmarcPolicy;
  policySource?: 'p' | 'sp' | 'np';
  testing: boolean;
  lookups: DmarcLookup[];
  problem?: string;
}

export interface DiscoverOptions {
  resolver: Resolver;
  method?: OrgDomainMethod;
}

/** RFC 9091 §2.1 / DMARCbis: a domain that answers NXDOMAIN for A, AAAA and MX does not exist. */
async function nonExistent(resolver: Resolver, domain: string): Promise<boolean> {
  const answers = await Promise.all((['A', 'AAAA', 'MX'] as const).map((t) => resolver.lookup(domain, t)));
  return answers.every((a) => a.kind === 'nxdomain');
}

export async function discoverPolicy(domain: string, options: DiscoverOptions): Promise<DmarcPolicyDiscovery> {
  const d = domain.trim().toLowerCase().replace(/\.$/, '');
  const method = options.method ?? 'tree-walk';
  const cache: DmarcLookupCache = new Map();
  const lookups: DmarcLookup[] = [];
  const base = { domain: d, issues: [] as DmarcIssue[], testing: false, lookups };
  const names = method === 'tree-walk' ? treeWalkNames(d) : [...new Set([d, organizationalDomainByPsl(d)])];
  let found: DmarcLookup | undefined;
  for (const name of names) {
    const r = await cachedLookupDmarc(options.resolver, cache, name);
    lookups.push(r);
    if (r.outcome === 'error') {
      return {
        ...base,
        status: 'temperror',
        orgDomain: organizationalDomainByPsl(d),
        orgDomainMethod: 'psl-fallback',
        problem: `_dmarc.${name}: ${r.detail}`,
      };
    }
    if (r.outcome === 'record') {
      found = r;
      break;
    }
  }
  const org =
    method === 'tree-walk'
      ? await organizationalDomain(d, { method, resolver: options.resolver, cache })
      : { orgDomain: organizationalDomainByPsl(d), method: 'psl' as const };
  const orgPart = { orgDomain: org.orgDomain, orgDomainMethod: org.method };
  if (!found) return { ...base, ...orgPart, status: 'none', problem: 'no DMARC record found' };
  const record = found.record!;
  const parsed = parseDmarcRecord(found.text!);
  const issues = parsed.issues;
  let policy: DmarcPolicy = record.effectivePolicy;
  let policySource: 'p' | 'sp' | 'np' = 'p';
  if (found.domain !== d) {
    // A record found above the author domain: np for a non-existent name, else sp, else p.
    if (record.np && (await nonExistent(options.resolver, d))) {
      policy = record.np;
      policySource = 'np';
    } else if (record.sp) {
      policy = record.sp;
      policySource = 'sp';
    }
  }
  return {
    ...base,
    ...orgPart,
    status: 'found',
    record,
    issues,
    policyDomain: found.domain,
    policy,
    policySource,
    testing: record.testing,
  };
}

export interface ReportDestinationCheck {
  tag: 'rua' | 'ruf';
  uri: string;
  destination?: string;
  /** The destination's organizational domain differs from the policy domain's (RFC 7489 §7.1). */
  external: boolean;
  /** true / false, or null when DNS failed and the answer is unknown. */
  authorized: boolean | null;
  /** The name queried for the authorization record. */
  queried?: string;
  record?: string;
  /** URIs the destination publishes to replace ours (§7.1 step 8; same host only). */
  override?: string[];
  problem?: string;
}

/**
 * RFC 7489 §7.1: an external report destination must publish a `v=DMARC1` TXT record at
 * `<policy-domain>._report._dmarc.<destination-host>` to accept reports for the policy domain.
 */
export async function checkReportDestinations(
  policyDomain: string,
  record: Pick<DmarcRecord, 'rua' | 'ruf'>,
  options: { resolver: Resolver; orgDomain?: (d: string) => string; tags?: ('rua' | 'ruf')[] },
): Promise<ReportDestinationCheck[]> {
  const org = options.orgDomain ?? organizationalDomainByPsl;
  const domain = policyDomain.toLowerCase().replace(/\.$/, '');
  const out: ReportDestinationCheck[] = [];
  for (const tag of options.tags ?? ['rua', 'ruf']) {
    for (const uri of record[tag] as DmarcUri[]) {
      if (!uri.domain) {
        out.push({ tag, uri: uri.uri, external: false, authorized: null, problem: `${uri.scheme}: destinations cannot be checked` });
        continue;
      }
      const destination = uri.domain;
      if (org(destination) === org(domain)) {
        out.push({ tag, uri: uri.uri, destination, external: false, authorized: true });
        continue;
      }
      const queried = `${domain}._report._dmarc.${destination}`;
      const r = await options.resolver.lookup(queried, 'TXT');
      if (r.kind === 'error') {
        out.push({ tag, uri: uri.uri, destination, external: true, authorized: null, queried, problem: `DNS ${r.failure}: ${r.message}` });
        continue;
      }
      const accepted = r.kind === 'answer' ? r.records.filter(isDmarcRecord) : [];
      if (accepted.length === 0) {
        out.push({
          tag,
          uri: uri.uri,
          destination,
          external: true,
          authorized: false,
          queried,
          problem: `${destination} does not publish ${queried} TXT "v=DMARC1", so receivers will not send it reports`,
        });
        continue;
      }
      const check: ReportDestinationCheck = {
        tag,
        uri: uri.uri,
        destination,
        external: true,
        authorized: true,
        queried,
        record: accepted[0]!,
      };
      const parsed = parseDmarcRecord(accepted[0]!);
      if (parsed.ok && parsed.record[tag].length > 0) {
        // §7.1 step 8: an override must keep the same destination host.
        check.override = parsed.record[tag].filter((u) => u.domain === destination).map((u) => u.uri);
      }
      out.push(check);
    }
  }
  return out;
}

export interface DmarcEvaluationInput {
  fromDomain: string;
  spf: { result: string; domain: string };
  dkim: { result: string; domain: string }[];
}

export interface DmarcEvaluation {
  result: 'pass' | 'fail' | 'none' | 'temperror';
  disposition: DmarcPolicy;
  policy?: DmarcPolicy;
  policySource?: 'p' | 'sp' | 'np';
  testing: boolean;
  alignment: {
    spf: { aligned: boolean; mode: AlignmentMode; domain: string; result: string };
    dkim: { aligned: boolean; mode: AlignmentMode; alignedDomain?: string; passing: string[] };
  };
  reasons: string[];
}

const ONE_LESS: Record<DmarcPolicy, DmarcPolicy> = { reject: 'quarantine', quarantine: 'none', none: 'none' };

/**
 * RFC 7489 §6.6.2: DMARC passes when SPF passes for an aligned domain or a DKIM signature passes
 * for an aligned domain. On fail the disposition is the discovered policy, one level less under
 * DMARCbis t=y. pct sampling (RFC 7489 §6.6.4) is not applied: DMARCbis removes it.
 */
export function evaluateDmarc(
  input: DmarcEvaluationInput,
  policy: DmarcPolicyDiscovery | null,
  options: { orgDomain?: (d: string) => string } = {},
): DmarcEvaluation {
  const org = options.orgDomain ?? organizationalDomainByPsl;
  const aspf = policy?.record?.aspf ?? 'r';
  const adkim = policy?.record?.adkim ?? 'r';
  const spfAligned = input.spf.result === 'pass' && domainsAlign(input.spf.domain, input.fromDomain, aspf, org);
  const passing = input.dkim.filter((s) => s.result === 'pass').map((s) => s.domain.toLowerCase());
  const alignedDomain = passing.find((dom) => domainsAlign(dom, input.fromDomain, adkim, org));
  const alignment: DmarcEvaluation['alignment'] = {
    spf: { aligned: spfAligned, mode: aspf, domain: input.spf.domain, result: input.spf.result },
    dkim: { aligned: alignedDomain !== undefined, mode: adkim, passing, ...(alignedDomain ? { alignedDomain } : {}) },
  };
  const reasons: string[] = [];
  reasons.push(
    spfAligned
      ? `SPF passed for ${input.spf.domain}, aligned (${aspf}) with ${input.fromDomain}`
      : input.spf.result !== 'pass'
        ? `SPF ${input.spf.result} for ${input.spf.domain || '(no domain)'}`
        : `SPF passed for ${input.spf.domain}, not aligned (${aspf}) with ${input.fromDomain}`,
  );
  reasons.push(
    alignedDomain
      ? `DKIM passed for d=${alignedDomain}, aligned (${adkim})`
      : passing.length > 0
        ? `DKIM passed only for ${passing.join(', ')}, not aligned (${adkim}) with ${input.fromDomain}`
        : 'no passing DKIM signature',
  );
  if (!policy || policy.status === 'none') {
    return { result: 'none', disposition: 'none', testing: false, alignment, reasons: [...reasons, 'no DMARC policy published'] };
  }
  if (policy.status === 'temperror') {
    return { result: 'temperror', disposition: 'none', testing: false, alignment, reasons: [...reasons, policy.problem ?? 'DNS error'] };
  }
  const applied = { policy: policy.policy!, policySource: policy.policySource!, testing: policy.testing };
  if (spfAligned || alignedDomain) return { result: 'pass', disposition: 'none', ...applied, alignment, reasons };
  const disposition = policy.testing ? ONE_LESS[policy.policy!] : policy.policy!;
  if (policy.testing) reasons.push(`t=y: ${policy.policy} is being tested, ${disposition} applies`);
  return { result: 'fail', disposition, ...applied, alignment, reasons };
}
