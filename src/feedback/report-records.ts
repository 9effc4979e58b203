/**
 * Turns parsed DMARC aggregate and TLS-RPT reports into the rows the store keeps, and classifies
 * each DMARC source as authorized or unknown in a way a person can check by hand:
 *   - `dkim-aligned-pass`: the reporter evaluated DKIM as aligned and passing (policy_evaluated);
 *   - `spf-aligned-pass`: the same for SPF;
 *   - `listed-in-spf`: neither passed, but the domain's SPF record authorizes the IP (a legitimate
 *     sender that forwards or misconfigures alignment; RFC 7208 check_host with the domain);
 *   - `no-aligned-pass`: none of these: an unknown sender (or a forwarder) the policy exists for.
 * Only the first two say anything about our own mail: the platform signs with the From domain, so
 * our sends pass aligned DKIM.
 */
import { createHash } from 'node:crypto';
import { newId } from '../core/index.js';
import type { DmarcRecordRow, TlsReportRow } from '../store/index.js';
import type { DmarcAggregateReport, DmarcRecord } from './dmarc-aggregate.js';
import type { TlsReport } from './tls-rpt.js';

export type SourceClass = { authorized: boolean; reason: 'dkim-aligned-pass' | 'spf-aligned-pass' | 'listed-in-spf' | 'no-aligned-pass' };

/** True when the domain's SPF record authorizes the IP; injected (DNS) and may be absent. */
export type SpfAuthorizes = (domain: string, ip: string) => Promise<boolean>;

/** Most distinct SPF lookups one report may cost (each is up to 10 DNS queries, RFC 7208 §4.6.4). */
const MAX_SPF_CHECKS = 50;

export async function classifySources(
  domain: string,
  records: readonly DmarcRecord[],
  spfAuthorizes?: SpfAuthorizes,
): Promise<SourceClass[]> {
  const cache = new Map<string, boolean>();
  const out: SourceClass[] = [];
  for (const r of records) {
    if (lower(r.dkim) === 'pass') out.push({ authorized: true, reason: 'dkim-aligned-pass' });
    else if (lower(r.spf) === 'pass') out.push({ authorized: true, reason: 'spf-aligned-pass' });
    else {
      let listed = cache.get(r.sourceIp);
      if (listed === undefined && spfAuthorizes && cache.size < MAX_SPF_CHECKS) {
        listed = await spfAuthorizes(domain, r.sourceIp).catch(() => false);
        cache.set(r.sourceIp, listed);
      }
      out.push(listed ? { authorized: true, reason: 'listed-in-spf' } : { authorized: false, reason: 'no-aligned-pass' });
    }
  }
  return out;
}

export function dmarcRows(
  report: DmarcAggregateReport,
  classes: readonly SourceClass[],
  at: { documentId: string; tenantId: string; domainId: string; now: number },
): DmarcRecordRow[] {
  const m = report.metadata;
  const p = report.policyPublished;
  const policy = Object.fromEntries(
    Object.entries({ p: p.p, sp: p.sp, np: p.np, adkim: p.adkim, aspf: p.aspf, pct: p.pct, testing: p.testing }).filter(
      ([, v]) => v !== undefined,
    ),
  );
  return report.records.map((r, i) => ({
    id: newId('rpt', at.now),
    documentId: at.documentId,
    tenantId: at.tenantId,
    domainId: at.domainId,
    policyDomain: p.domain.toLowerCase(),
    policy,
    orgName: m.orgName,
    reportId: m.reportId,
    rowIndex: i,
    // Unix seconds in the report (RFC 7489 Appendix C); a report without a range counts as now.
    dateBegin: m.dateRange.begin !== undefined ? m.dateRange.begin * 1000 : at.now,
    dateEnd: m.dateRange.end !== undefined ? m.dateRange.end * 1000 : at.now,
    sourceIp: r.sourceIp,
    count: r.count,
    disposition: r.disposition ?? null,
    dkim: r.dkim ?? null,
    spf: r.spf ?? null,
    headerFrom: r.headerFrom ?? null,
    authResults: r.authResults,
    authorized: classes[i]?.authorized ?? false,
    authorizedReason: classes[i]?.reason ?? 'no-aligned-pass',
  }));
}

export function tlsRows(report: TlsReport, at: { documentId: string; tenantFor: (policyDomain: string) => string | null; now: number }) {
  const time = (s: string | undefined) => {
    const t = s ? Date.parse(s) : Number.NaN;
    return Number.isNaN(t) ? at.now : t;
  };
  return report.policies.map(
    (p, i): TlsReportRow => ({
      id: newId('rpt', at.now),
      documentId: at.documentId,
      tenantId: at.tenantFor(p.policyDomain.toLowerCase()),
      orgName: report.organizationName,
      reportId: report.reportId,
      policyIndex: i,
      dateBegin: time(report.dateRange.start),
      dateEnd: time(report.dateRange.end),
      policyType: p.policyType,
      policyDomain: p.policyDomain.toLowerCase(),
      successCount: p.totalSuccessfulSessionCount,
      failureCount: p.totalFailureSessionCount,
      failures: p.failureDetails.map((f) => ({
        resultType: f.resultType,
        failedSessionCount: f.failedSessionCount,
        ...(f.receivingMxHostname ? { receivingMxHostname: f.receivingMxHostname } : {}),
        ...(f.sendingMtaIp ? { sendingMtaIp: f.sendingMtaIp } : {}),
      })),
    }),
  );
}

function lower(s: string | undefined): string {
  return (s ?? '').trim().toLowerCase();
}

/**
 * What makes two reports the same content: the reporter, the policy and period, and the records,
 * without the report id. A reporter that sends the same report again under a new id (or to two of
 * our addresses) is counted once.
 */
export function reportDigest(content: unknown): string {
  return createHash('sha256').update(JSON.stringify(content)).digest('hex');
}
