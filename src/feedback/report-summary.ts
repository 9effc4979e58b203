/**
 * Read-side summaries of stored reports, pure over rows: the DMARC picture of one sending domain
 * (sources, volumes, pass rates, and the staged policy advice of identity's advisor fed with these
 * rows and the platform's own sends) and the TLS-RPT transport-security statistics per policy
 * domain. The numbers are the reporters' own, summed: a message counted by two reporters counts twice.
 */
import {
  adviseDmarcPolicy,
  type CurrentDmarcPolicy,
  type DailyAggregate,
  type DmarcAdvice,
  type DmarcPolicy,
  type PlatformDailySends,
} from '../identity/index.js';
import type { DmarcRecordRow, TlsReportRow } from '../store/index.js';

export interface DmarcSourceSummary {
  ip: string;
  authorized: boolean;
  /** Why: dkim-aligned-pass, spf-aligned-pass, listed-in-spf, no-aligned-pass (the strongest seen). */
  reason: string;
  messages: number;
  dkimPass: number;
  spfPass: number;
  dmarcPass: number;
  passRate: number;
  dispositions: Record<string, number>;
  reporters: string[];
  headerFrom: string[];
}

export interface DmarcSummary {
  domain: string;
  window: { from: string; to: string; days: number };
  reports: number;
  reporters: string[];
  totals: { messages: number; dmarcPass: number; passRate: number; authorizedMessages: number; unknownMessages: number };
  sources: DmarcSourceSummary[];
  /** The policy the reporters saw most recently (policy_published). */
  publishedPolicy: Record<string, unknown> | null;
  advice: DmarcAdvice;
}

const REASON_RANK = ['dkim-aligned-pass', 'spf-aligned-pass', 'listed-in-spf', 'no-aligned-pass'];
const rate = (n: number, d: number) => (d === 0 ? 0 : Math.round((n / d) * 10_000) / 10_000);
const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

export function summariseDmarc(
  domain: string,
  rows: readonly DmarcRecordRow[],
  platformSends: readonly PlatformDailySends[],
  window: { fromMs: number; toMs: number; days: number },
): DmarcSummary {
  const sources = new Map<string, DmarcSourceSummary>();
  const reports = new Set<string>();
  const reporters = new Set<string>();
  let latest: DmarcRecordRow | undefined;
  for (const r of rows) {
    reports.add(`${r.orgName}\n${r.reportId}`);
    reporters.add(r.orgName);
    if (!latest || (r.dateEnd ?? 0) >= (latest.dateEnd ?? 0)) latest = r;
    let s = sources.get(r.sourceIp);
    if (!s) {
      s = {
        ip: r.sourceIp,
        authorized: false,
        reason: 'no-aligned-pass',
        messages: 0,
        dkimPass: 0,
        spfPass: 0,
        dmarcPass: 0,
        passRate: 0,
        dispositions: {},
        reporters: [],
        headerFrom: [],
      };
      sources.set(r.sourceIp, s);
    }
    const dkim = r.dkim === 'pass';
    const spf = r.spf === 'pass';
    s.messages += r.count;
    s.dkimPass += dkim ? r.count : 0;
    s.spfPass += spf ? r.count : 0;
    s.dmarcPass += dkim || spf ? r.count : 0;
    const disposition = r.disposition ?? 'unknown';
    s.dispositions[disposition] = (s.dispositions[disposition] ?? 0) + r.count;
    if (REASON_RANK.indexOf(r.authorizedReason) < REASON_RANK.indexOf(s.reason)) s.reason = r.authorizedReason;
    s.authorized ||= r.authorized;
    if (!s.reporters.includes(r.orgName)) s.reporters.push(r.orgName);
    if (r.headerFrom && !s.headerFrom.includes(r.headerFrom)) s.headerFrom.push(r.headerFrom);
  }
  const list = [...sources.values()].map((s) => ({ ...s, passRate: rate(s.dmarcPass, s.messages) }));
  list.sort((a, b) => b.messages - a.messages || a.ip.localeCompare(b.ip));
  const messages = list.reduce((n, s) => n + s.messages, 0);
  const dmarcPass = list.reduce((n, s) => n + s.dmarcPass, 0);
  const authorizedMessages = list.filter((s) => s.authorized).reduce((n, s) => n + s.messages, 0);

  const aggregates: DailyAggregate[] = rows.map((r) => ({
    date: day(r.dateBegin ?? window.toMs),
    source: { ip: r.sourceIp, authorized: r.authorized },
    count: r.count,
    spfAligned: r.spf === 'pass',
    dkimAligned: r.dkim === 'pass',
  }));
  const policy = latest?.policy ?? null;
  const current: CurrentDmarcPolicy = {
    p: isPolicy(policy?.p) ? policy.p : 'none',
    ...(policy?.testing === 'y' ? { testing: true } : {}),
  };
  const advice = adviseDmarcPolicy(aggregates, platformSends, current, { asOf: day(window.toMs) });
  return {
    domain,
    window: { from: new Date(window.fromMs).toISOString(), to: new Date(window.toMs).toISOString(), days: window.days },
    reports: reports.size,
    reporters: [...reporters].sort(),
    totals: {
      messages,
      dmarcPass,
      passRate: rate(dmarcPass, messages),
      authorizedMessages,
      unknownMessages: messages - authorizedMessages,
    },
    sources: list,
    publishedPolicy: policy,
    advice,
  };
}

function isPolicy(v: unknown): v is DmarcPolicy {
  return v === 'none' || v === 'quarantine' || v === 'reject';
}

/** Inbound transport security of one policy domain as reporters saw it (RFC 8460 §4.4 totals). */
export interface TlsPolicyStats {
  policyDomain: string;
  policyType: string;
  successfulSessions: number;
  failedSessions: number;
  failureRate: number;
  /** RFC 8460 §4.3 result type → failed sessions. */
  failures: Record<string, number>;
  reporters: string[];
  reports: number;
}

export function summariseTlsReports(rows: readonly TlsReportRow[]): TlsPolicyStats[] {
  const by = new Map<string, TlsPolicyStats & { ids: Set<string> }>();
  for (const r of rows) {
    const key = `${r.policyDomain}\n${r.policyType}`;
    let s = by.get(key);
    if (!s) {
      s = {
        policyDomain: r.policyDomain,
        policyType: r.policyType,
        successfulSessions: 0,
        failedSessions: 0,
        failureRate: 0,
        failures: {},
        reporters: [],
        reports: 0,
        ids: new Set(),
      };
      by.set(key, s);
    }
    s.successfulSessions += r.successCount;
    s.failedSessions += r.failureCount;
    for (const f of r.failures) s.failures[f.resultType] = (s.failures[f.resultType] ?? 0) + f.failedSessionCount;
    if (!s.reporters.includes(r.orgName)) s.reporters.push(r.orgName);
    s.ids.add(`${r.orgName}\n${r.reportId}`);
  }
  return [...by.values()]
    .map(({ ids, ...s }) => ({ ...s, reports: ids.size, failureRate: rate(s.failedSessions, s.successfulSessions + s.failedSessions) }))
    .sort((a, b) => a.policyDomain.localeCompare(b.policyDomain) || a.policyType.localeCompare(b.policyType));
}
