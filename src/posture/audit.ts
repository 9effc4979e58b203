import { type Clock, isoTime, normaliseDomain, validationError } from '../core/index.js';
import type { Resolver } from '../dns/index.js';
import type { PolicyFetcher } from '../transport-policy/index.js';
import { complete } from './catalogue.js';
import type { Check, CheckContext, DmarcView, MxView } from './check-context.js';
import { checkBimi } from './checks/bimi.js';
import { checkDkim } from './checks/dkim.js';
import { checkDmarc, readDmarc } from './checks/dmarc.js';
import { checkDnssecDane } from './checks/dnssec-dane.js';
import { checkMtaSts } from './checks/mta-sts.js';
import { checkMx, readMx } from './checks/mx.js';
import { checkSpf } from './checks/spf.js';
import { checkTlsRpt } from './checks/tls-rpt.js';
import { type DelegationInput, proposeDelegations } from './delegation.js';
import { type PostureFinding, type PostureSeverity, severityRank } from './finding.js';
import type { HttpsGetter } from './https-get.js';
import { createRecordingResolver, type RecordedQuery } from './recording-resolver.js';
import type { AuthorizedSender } from './sender-inventory.js';

/**
 * One audit of one domain: every check runs at once over a recording resolver (each query bounded by
 * `queryTimeoutMs`, each name and type asked once), and the result carries every query and answer as
 * evidence. Findings are sorted (severity, id, subject) so the same DNS gives the same result.
 */
export interface AuditDeps {
  resolver: Resolver;
  clock: Clock;
  fetchPolicy: PolicyFetcher;
  fetchHttps: HttpsGetter;
  /** Bound on each DNS query; default 2000 ms. */
  queryTimeoutMs?: number;
}

export interface AuditOptions {
  /** DKIM selectors to check (given on the command line, or the managed domain's own). */
  selectors?: string[];
  /** Approved MX host patterns; when absent, MX targets are not checked against a list. */
  approvedMx?: string[];
  /**
   * The tenant's third-party register (audits with a tenant): entries that send as the domain itself
   * get `third-party.on-apex` with a delegated subdomain's records (delegation.ts). Absent or empty:
   * nothing more is asked.
   */
  thirdParties?: DelegationInput;
}

export type AuditSection = 'mx' | 'spf' | 'dkim' | 'dmarc' | 'mta-sts' | 'tls-rpt' | 'dnssec-dane' | 'bimi';

export interface AuditResult {
  domain: string;
  auditedAt: string;
  /** The resolver the answers came from (and whose AD bit the DNSSEC verdicts rest on). */
  resolver: string;
  durationMs: number;
  summary: Record<PostureSeverity, number>;
  findings: PostureFinding[];
  facts: Record<AuditSection, Record<string, unknown>>;
  senders: AuthorizedSender[];
  queries: RecordedQuery[];
}

const checks: Record<AuditSection, Check> = {
  mx: checkMx,
  spf: checkSpf,
  dkim: checkDkim,
  dmarc: checkDmarc,
  'mta-sts': checkMtaSts,
  'tls-rpt': checkTlsRpt,
  'dnssec-dane': checkDnssecDane,
  bimi: checkBimi,
};

export function auditDomainName(input: string): string {
  const domain = normaliseDomain(input);
  if (domain === null || !domain.includes('.')) {
    throw validationError([{ path: '/domain', message: 'must be a domain name such as example.com' }], `"${input}" is not a domain name`);
  }
  return domain;
}

export function compareFindings(a: PostureFinding, b: PostureFinding): number {
  return (
    severityRank[a.severity] - severityRank[b.severity] ||
    a.id.localeCompare(b.id) ||
    a.subject.localeCompare(b.subject) ||
    a.found.localeCompare(b.found)
  );
}

export async function auditDomain(input: string, deps: AuditDeps, options: AuditOptions = {}): Promise<AuditResult> {
  const domain = auditDomainName(input);
  const started = deps.clock.now();
  const wall = performance.now();
  const resolver = createRecordingResolver(deps.resolver, { timeoutMs: deps.queryTimeoutMs ?? 2000 });
  let mx: Promise<MxView> | undefined;
  let dmarc: Promise<DmarcView> | undefined;
  const ctx: CheckContext = {
    domain,
    resolver,
    now: started,
    selectors: options.selectors ?? [],
    ...(options.approvedMx ? { approvedMx: options.approvedMx } : {}),
    fetchPolicy: deps.fetchPolicy,
    fetchHttps: deps.fetchHttps,
    mx: () => {
      mx ??= readMx(ctx);
      return mx;
    },
    dmarc: () => {
      dmarc ??= readDmarc(ctx);
      return dmarc;
    },
  };
  const sections = Object.keys(checks) as AuditSection[];
  const running = sections.map((s) => checks[s](ctx));
  // Delegation proposals read the SPF check's analysis, so they start with the checks and finish
  // with SPF (plus, per entry on the apex, one round trip for its DKIM selectors).
  const delegation = options.thirdParties?.senders.length
    ? proposeDelegations(ctx, options.thirdParties, running[sections.indexOf('spf')]!)
    : Promise.resolve([]);
  const [outcomes, proposals] = await Promise.all([Promise.all(running), delegation]);
  const findings = [...outcomes.flatMap((o) => o.findings), ...proposals].map(complete).sort(compareFindings);
  const facts = Object.fromEntries(sections.map((s, i) => [s, outcomes[i]!.facts])) as AuditResult['facts'];
  const summary: Record<PostureSeverity, number> = { critical: 0, high: 0, medium: 0, low: 0, info: 0 };
  for (const f of findings) summary[f.severity] += 1;
  return {
    domain,
    auditedAt: isoTime(started),
    resolver: resolver.describe(),
    durationMs: Math.round(performance.now() - wall),
    summary,
    findings,
    facts,
    senders: (facts.spf.senders as AuthorizedSender[] | undefined) ?? [],
    queries: resolver.recorded(),
  };
}
