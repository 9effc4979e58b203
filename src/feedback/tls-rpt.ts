/**
 * SMTP TLS Reporting (RFC 8460 §4): JSON reports of how many sessions to a policy domain succeeded
 * and why the others failed. Sent as application/tlsrpt+json or application/tlsrpt+gzip (§5.3).
 */
import type { TlsRptResultType } from '../core/index.js';
import { limitExceeded, reportLimits } from './report-limits.js';
import { decodeReportText, type PayloadFile, reportFiles, type UnpackBudget } from './report-payload.js';

/** RFC 8460 §4.3 result types; others a reporter writes are kept as written. */
export type ReportedResultType = TlsRptResultType | (string & {});

export interface TlsReport {
  organizationName: string;
  reportId: string;
  contactInfo?: string;
  /** ISO 8601 (RFC 3339) as reported. */
  dateRange: { start?: string; end?: string };
  policies: TlsReportPolicy[];
  source: { name: string; container: string };
  warnings: string[];
}

export interface TlsReportPolicy {
  policyType: string;
  policyDomain: string;
  policyString: string[];
  mxHost: string[];
  totalSuccessfulSessionCount: number;
  totalFailureSessionCount: number;
  failureDetails: {
    resultType: ReportedResultType;
    sendingMtaIp?: string;
    receivingMxHostname?: string;
    receivingMxHelo?: string;
    receivingIp?: string;
    failedSessionCount: number;
    additionalInformation?: string;
    failureReasonCode?: string;
  }[];
}

export interface TlsRptParse {
  reports: TlsReport[];
  errors: { name: string; error: string }[];
}

type Json = Record<string, unknown>;

export function parseTlsRpt(
  input: Uint8Array | string,
  filename = 'report.json',
  /** Shared across the attachments of one message; see `UnpackBudget`. */
  budget?: UnpackBudget,
): TlsRptParse {
  const out: TlsRptParse = { reports: [], errors: [] };
  const unpacked = reportFiles(input, filename, budget);
  if ('error' in unpacked) {
    out.errors.push(unpacked.error);
    return out;
  }
  for (const file of unpacked.files) {
    const warnings: string[] = [];
    let doc: unknown;
    try {
      doc = JSON.parse(decodeReportText(file.bytes, warnings));
    } catch (e) {
      out.errors.push({ name: file.name, error: `invalid JSON: ${(e as Error).message}` });
      continue;
    }
    if (!isTlsReport(doc)) {
      out.errors.push({ name: file.name, error: 'not a TLS-RPT report (no policies/organization-name)' });
      continue;
    }
    // The same cap as DMARC records (report-limits.ts): refused whole, never truncated.
    const max = reportLimits().maxRecords;
    if (Array.isArray(doc.policies) && doc.policies.length > max) {
      throw limitExceeded('maxRecords', `TLS report ${file.name} has ${doc.policies.length} policies`, max);
    }
    out.reports.push(toReport(doc, file, warnings));
  }
  return out;
}

export function isTlsReport(doc: unknown): doc is Json {
  return (
    !!doc &&
    typeof doc === 'object' &&
    Array.isArray((doc as Json).policies) &&
    ('organization-name' in (doc as Json) || 'report-id' in (doc as Json))
  );
}

function toReport(doc: Json, file: PayloadFile, warnings: string[]): TlsReport {
  const range = (doc['date-range'] ?? {}) as Json;
  const report: TlsReport = {
    organizationName: str(doc['organization-name']) ?? '',
    reportId: str(doc['report-id']) ?? '',
    dateRange: {},
    policies: [],
    source: { name: file.name, container: file.container },
    warnings,
  };
  const contact = str(doc['contact-info']);
  if (contact) report.contactInfo = contact;
  const start = str(range['start-datetime']);
  const end = str(range['end-datetime']);
  if (start) report.dateRange.start = start;
  if (end) report.dateRange.end = end;
  if (!report.organizationName) warnings.push('missing organization-name');
  if (!report.reportId) warnings.push('missing report-id');
  for (const p of doc.policies as unknown[]) {
    const entry = (p ?? {}) as Json;
    const policy = (entry.policy ?? {}) as Json;
    const summary = (entry.summary ?? {}) as Json;
    report.policies.push({
      policyType: str(policy['policy-type']) ?? 'no-policy-found',
      policyDomain: (str(policy['policy-domain']) ?? '').toLowerCase(),
      policyString: strings(policy['policy-string']),
      // RFC 8460 §4.4 shows mx-host as a list; some reporters send one string.
      mxHost: strings(policy['mx-host']),
      totalSuccessfulSessionCount: num(summary['total-successful-session-count']),
      totalFailureSessionCount: num(summary['total-failure-session-count']),
      failureDetails: (Array.isArray(entry['failure-details']) ? entry['failure-details'] : []).map((d: unknown) => {
        const f = (d ?? {}) as Json;
        const detail: TlsReportPolicy['failureDetails'][number] = {
          resultType: str(f['result-type']) ?? 'unknown',
          failedSessionCount: num(f['failed-session-count']),
        };
        const opt: [keyof typeof detail, string][] = [
          ['sendingMtaIp', 'sending-mta-ip'],
          ['receivingMxHostname', 'receiving-mx-hostname'],
          ['receivingMxHelo', 'receiving-mx-helo'],
          ['receivingIp', 'receiving-ip'],
          ['additionalInformation', 'additional-information'],
          ['failureReasonCode', 'failure-reason-code'],
        ];
        for (const [key, name] of opt) {
          const v = str(f[name]);
          if (v) (detail as Record<string, unknown>)[key] = v;
        }
        return detail;
      }),
    });
  }
  return report;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v.trim() || undefined : typeof v === 'number' ? String(v) : undefined;
}

function strings(v: unknown): string[] {
  return (Array.isArray(v) ? v : v === undefined ? [] : [v]).map(str).filter((s): s is string => s !== undefined);
}

function num(v: unknown): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : Number.NaN;
  return Number.isFinite(n) && n >= 0 ? Math.floor(n) : 0;
}
