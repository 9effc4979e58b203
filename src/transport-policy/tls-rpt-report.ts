import type { TlsRptResultType } from '../core/index.js';

/**
 * TLS-RPT as a sender (RFC 8460): the `_smtp._tls` record that says where reports go (§3), the JSON
 * report of one day for one policy domain (§4.4), and the e-mail framing of a report (§5.1, §5.3).
 * Pure; the daily job in delivery gathers the counts and sends what this builds.
 */

export type TlsRptPolicyType = 'sts' | 'tlsa' | 'no-policy-found';

export interface TlsRptFailureDetail {
  resultType: TlsRptResultType | (string & {});
  sendingMtaIp?: string;
  receivingMxHostname?: string;
  receivingIp?: string;
  failedSessionCount: number;
  failureReasonCode?: string;
}

export interface TlsRptPolicyInput {
  policyType: TlsRptPolicyType;
  policyString: string[];
  policyDomain: string;
  mxHost: string[];
  successfulSessions: number;
  failures: TlsRptFailureDetail[];
}

export interface TlsRptReportInput {
  organizationName: string;
  contactInfo: string;
  reportId: string;
  /** UTC start of the period (inclusive) and end (exclusive), ms. */
  start: number;
  end: number;
  policies: TlsRptPolicyInput[];
}

/** The §4.4 JSON document (field names as the RFC spells them). */
export function buildTlsRptReport(input: TlsRptReportInput): Record<string, unknown> {
  return {
    'organization-name': input.organizationName,
    'date-range': {
      'start-datetime': rfc3339(input.start),
      'end-datetime': rfc3339(input.end),
    },
    'contact-info': input.contactInfo,
    'report-id': input.reportId,
    policies: input.policies.map((p) => {
      const failed = p.failures.reduce((n, f) => n + f.failedSessionCount, 0);
      const policy: Record<string, unknown> = {
        'policy-type': p.policyType,
        'policy-domain': p.policyDomain,
      };
      // §4.4: policy-string and mx-host describe a policy; a domain without one has neither.
      if (p.policyType !== 'no-policy-found') policy['policy-string'] = p.policyString;
      if (p.mxHost.length) policy['mx-host'] = p.mxHost;
      return {
        policy,
        summary: { 'total-successful-session-count': p.successfulSessions, 'total-failure-session-count': failed },
        ...(p.failures.length
          ? {
              'failure-details': p.failures.map((f) => ({
                'result-type': f.resultType,
                ...(f.sendingMtaIp ? { 'sending-mta-ip': f.sendingMtaIp } : {}),
                ...(f.receivingMxHostname ? { 'receiving-mx-hostname': f.receivingMxHostname } : {}),
                ...(f.receivingIp ? { 'receiving-ip': f.receivingIp } : {}),
                'failed-session-count': f.failedSessionCount,
                ...(f.failureReasonCode ? { 'failure-reason-code': f.failureReasonCode.slice(0, 200) } : {}),
              })),
            }
          : {}),
      };
    }),
  };
}

/** RFC 3339 date-time in UTC without fractions (§4.4 "date-time"). */
function rfc3339(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export type TlsRptRecordParse = { ok: true; rua: string[] } | { ok: false; reason: string };

/**
 * RFC 8460 §3: `v=TLSRPTv1; rua=mailto:a@example.com,https://reports.example.com/tlsrpt`. Exactly one
 * record must start with `v=TLSRPTv1`; `rua` is a comma-separated list of mailto: or https: URIs.
 */
export function parseTlsRptRecord(txt: readonly string[]): TlsRptRecordParse {
  const records = txt.filter((t) => /^v=TLSRPTv1\s*(;|$)/.test(t.trim()));
  if (records.length === 0) return { ok: false, reason: 'no v=TLSRPTv1 record' };
  if (records.length > 1) return { ok: false, reason: 'more than one v=TLSRPTv1 record (RFC 8460 §3)' };
  const fields = records[0]!.split(';').map((f) => f.trim());
  const rua = fields.find((f) => /^rua\s*=/i.test(f));
  if (!rua) return { ok: false, reason: 'the record has no rua field' };
  const uris = rua
    .replace(/^rua\s*=\s*/i, '')
    .split(',')
    .map((u) => u.trim())
    .filter((u) => /^(mailto:[^@\s]+@[^@\s]+|https:\/\/\S+)$/i.test(u));
  if (uris.length === 0) return { ok: false, reason: 'rua has no mailto: or https: URI' };
  return { ok: true, rua: uris };
}

/** §5.1: `sender!policy-domain!begin!end!unique.json.gz`, timestamps in seconds since the epoch. */
export function tlsRptFilename(o: { submitter: string; policyDomain: string; start: number; end: number; uniqueId?: string }): string {
  const parts = [o.submitter, o.policyDomain, String(Math.floor(o.start / 1000)), String(Math.floor(o.end / 1000))];
  if (o.uniqueId) parts.push(o.uniqueId);
  return `${parts.join('!')}.json.gz`;
}

/** §5.3: the report mail's subject. */
export function tlsRptSubject(o: { policyDomain: string; submitter: string; reportId: string }): string {
  return `Report Domain: ${o.policyDomain} Submitter: ${o.submitter} Report-ID: <${o.reportId}>`;
}

/**
 * §5.3: a multipart/report (report-type "tlsrpt") with a short human part and the gzipped JSON as
 * `application/tlsrpt+gzip`, plus the TLS-Report-Domain and TLS-Report-Submitter header fields.
 */
export function tlsRptMessage(o: {
  from: string;
  to: string;
  policyDomain: string;
  submitter: string;
  reportId: string;
  filename: string;
  gzipped: Buffer;
  date: Date;
  boundary: string;
}): Buffer {
  const b64 = o.gzipped.toString('base64').replace(/.{1,76}/g, '$&\r\n');
  const lines = [
    `From: ${o.from}`,
    `To: ${o.to}`,
    `Subject: ${tlsRptSubject(o)}`,
    `Date: ${o.date.toUTCString().replace('GMT', '+0000')}`,
    `TLS-Report-Domain: ${o.policyDomain}`,
    `TLS-Report-Submitter: ${o.submitter}`,
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type="tlsrpt"; boundary="${o.boundary}"`,
    '',
    `--${o.boundary}`,
    'Content-Type: text/plain; charset=utf-8',
    '',
    `This is an aggregate TLS report from ${o.submitter} for ${o.policyDomain} (RFC 8460).`,
    '',
    `--${o.boundary}`,
    `Content-Type: application/tlsrpt+gzip; name="${o.filename}"`,
    'Content-Transfer-Encoding: base64',
    `Content-Disposition: attachment; filename="${o.filename}"`,
    '',
    b64.trimEnd(),
    '',
    `--${o.boundary}--`,
    '',
  ];
  return Buffer.from(lines.join('\r\n'));
}
