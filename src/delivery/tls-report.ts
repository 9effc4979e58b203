import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { gzip as gzipCb } from 'node:zlib';
import { type Clock, newId } from '../core/index.js';
import type { Resolver } from '../dns/index.js';
import type { Store, TlsRptAggregate } from '../store/index.js';
import {
  buildTlsRptReport,
  parseTlsRptRecord,
  type TlsRptPolicyInput,
  type TlsRptPolicyType,
  tlsRptFilename,
  tlsRptMessage,
} from '../transport-policy/index.js';

const gzip = promisify(gzipCb);
const DAY_MS = 86_400_000;

/**
 * The daily TLS-RPT job of the sending side (RFC 8460). For one UTC day it counts the sessions of
 * every recipient policy domain from the stored attempts, and for each domain that publishes a
 * `_smtp._tls` record it builds the JSON report, gzips it and sends it to every `rua`: mailto through
 * the platform's own pipeline (so it is queued, retried and DKIM-signed like any mail, §5.3), https
 * by POST with `application/tlsrpt+gzip` (§5.4). A report is sent once per domain and day: the job
 * records what it sent and may run again after a crash or on several nodes' schedules.
 */
export interface TlsReportDeps {
  store: Pick<Store, 'tlsAttempts'>;
  resolver: Resolver;
  clock: Clock;
  organizationName: string;
  contactInfo: string;
  /** The reporting MTA's name (file names, TLS-Report-Submitter). */
  submitter: string;
  /** From address of report mails; its domain must be a sending domain of the reporting tenant. */
  from: string;
  /** Accepts one report mail into the pipeline (the platform's accept, as the reporting tenant). */
  submitMail?: (m: { to: string; raw: Buffer }) => Promise<void>;
  /** POSTs a report; resolves with the HTTP status. */
  postReport: (url: string, body: Buffer, headers: Record<string, string>) => Promise<number>;
  log?: { warn(obj: object, msg: string): void; info(obj: object, msg: string): void };
}

export interface TlsReportSent {
  policyDomain: string;
  reportId: string;
  report: Record<string, unknown>;
  destinations: Array<{ uri: string; ok: boolean; error?: string }>;
}

/** Start of the UTC day holding `ms`. */
export const utcDayStart = (ms: number): number => Math.floor(ms / DAY_MS) * DAY_MS;

export function createTlsReporter(deps: TlsReportDeps) {
  /** Builds the report of one domain for [start, end) from aggregates (pure over its input). */
  function reportFor(domain: string, rows: TlsRptAggregate[], start: number, end: number, reportId: string) {
    const policies = new Map<string, TlsRptPolicyInput>();
    for (const r of rows) {
      const key = JSON.stringify([r.policyType, r.policyString, r.mxPatterns]);
      let p = policies.get(key);
      if (!p) {
        p = {
          policyType: r.policyType as TlsRptPolicyType,
          policyString: r.policyString,
          policyDomain: domain,
          mxHost: r.mxPatterns,
          successfulSessions: 0,
          failures: [],
        };
        policies.set(key, p);
      }
      if (r.result === null) p.successfulSessions += r.sessions;
      else {
        p.failures.push({
          resultType: r.result,
          ...(r.mxHost ? { receivingMxHostname: r.mxHost } : {}),
          ...(r.ip ? { receivingIp: r.ip } : {}),
          failedSessionCount: r.sessions,
          ...(r.reason ? { failureReasonCode: r.reason } : {}),
        });
      }
    }
    return buildTlsRptReport({
      organizationName: deps.organizationName,
      contactInfo: deps.contactInfo,
      reportId,
      start,
      end,
      policies: [...policies.values()],
    });
  }

  async function deliver(uri: string, domain: string, reportId: string, gz: Buffer, start: number, end: number) {
    const filename = tlsRptFilename({ submitter: deps.submitter, policyDomain: domain, start, end });
    if (uri.toLowerCase().startsWith('mailto:')) {
      if (!deps.submitMail) throw new Error('no reporting tenant configured for mailto: reports (transportSecurity.tlsRpt.tenantId)');
      const to = decodeURIComponent(uri.slice('mailto:'.length).split('?')[0]!);
      const raw = tlsRptMessage({
        from: deps.from,
        to,
        policyDomain: domain,
        submitter: deps.submitter,
        reportId,
        filename,
        gzipped: gz,
        date: new Date(deps.clock.now()),
        boundary: `tlsrpt-${randomBytes(8).toString('hex')}`,
      });
      await deps.submitMail({ to, raw });
      return;
    }
    const status = await deps.postReport(uri, gz, { 'content-type': 'application/tlsrpt+gzip' });
    // §5.4: any 2xx is success; anything else is a failed delivery of this report.
    if (status < 200 || status > 299) throw new Error(`HTTP ${status}`);
  }

  return {
    reportFor,
    /** Sends the reports of the UTC day starting at `dayStart` (default: yesterday). */
    async runDay(dayStart = utcDayStart(deps.clock.now()) - DAY_MS): Promise<TlsReportSent[]> {
      const start = utcDayStart(dayStart);
      const end = start + DAY_MS;
      const day = new Date(start).toISOString().slice(0, 10);
      const rows = await deps.store.tlsAttempts.rptAggregates({ from: start, to: end });
      const byDomain = new Map<string, TlsRptAggregate[]>();
      for (const r of rows) byDomain.set(r.domain, [...(byDomain.get(r.domain) ?? []), r]);
      const sent: TlsReportSent[] = [];
      for (const [domain, domainRows] of byDomain) {
        if (await deps.store.tlsAttempts.reportSent(domain, day)) continue;
        const txt = await deps.resolver.lookup(`_smtp._tls.${domain}`, 'TXT');
        if (txt.kind !== 'answer') continue;
        const record = parseTlsRptRecord(txt.records.map((r) => (Array.isArray(r) ? r.join('') : String(r))));
        if (!record.ok) {
          deps.log?.warn({ domain, reason: record.reason }, 'TLS-RPT record unusable; no report sent');
          continue;
        }
        const reportId = `${day}T00:00:00Z_${domain}_${newId('rpt', deps.clock.now())}`;
        const report = reportFor(domain, domainRows, start, end, reportId);
        const gz = await gzip(Buffer.from(JSON.stringify(report)));
        const destinations: TlsReportSent['destinations'] = [];
        for (const uri of record.rua) {
          try {
            await deliver(uri, domain, reportId, gz, start, end);
            destinations.push({ uri, ok: true });
          } catch (e) {
            destinations.push({ uri, ok: false, error: (e as Error).message });
            deps.log?.warn({ domain, uri, err: (e as Error).message }, 'TLS-RPT report delivery failed');
          }
        }
        // Sent once a destination took it; if none did, the next run tries again.
        if (destinations.some((d) => d.ok)) {
          await deps.store.tlsAttempts.markReportSent({
            policyDomain: domain,
            day,
            reportId,
            destinations: destinations.filter((d) => d.ok).map((d) => d.uri),
            sentAt: deps.clock.now(),
          });
        }
        sent.push({ policyDomain: domain, reportId, report, destinations });
      }
      return sent;
    },
  };
}

export type TlsReporter = ReturnType<typeof createTlsReporter>;
