import { createHash } from 'node:crypto';
import type { AuditResult } from './audit.js';
import { controls } from './controls.js';
import {
  dataProtectionHtml,
  dataProtectionMarkdown,
  escapeHtml,
  mdCell,
  type ReportDataProtection,
  type ReportProcessingRecords,
  type ReportSelfAssessment,
  recordsHtml,
  recordsMarkdown,
  selfAssessmentHtml,
  selfAssessmentMarkdown,
} from './report-sections.js';

/**
 * The evidence report an auditor reads: timestamp, resolver, every query and answer, findings, the
 * control mapping (with the evidence each SOC 2 criterion rests on), and optionally the transport TLS
 * statistics, the latest runs of the platform's self-assessment, the tenant's records of processing
 * for the report's period and its data protection (encryption, residency, holds, purge runs); then a
 * SHA-256 digest.
 *
 * The self-assessment and the records come from other concerns (src/self-assessment,
 * src/compliance); report-sections.ts declares the shapes the report reads of them and renders them,
 * and the edge that builds a report hands them in.
 *
 * What the digest covers, exactly: the SHA-256 (hex) of the canonical JSON of the report content:
 * the `ReportContent` object below with `durationMs` removed (wall-clock time is not evidence), keys
 * sorted at every level, no whitespace, UTF-8. Queries and findings are already sorted by the audit,
 * the time comes from the injected clock, so the same DNS answers at the same time give the same
 * digest in every format. The digest is computed before rendering and printed in each format;
 * anyone can recompute it from the JSON format by dropping `digest` and re-serialising.
 */
export interface TransportTlsStats {
  /** The period the figures cover, e.g. "2026-11-01/2026-11-30". */
  period: string;
  deliveries: number;
  /** Shares in [0, 1] of deliveries: over TLS, with a verified certificate, under MTA-STS, under DANE. */
  tlsShare: number;
  verifiedShare: number;
  mtaStsShare: number;
  daneShare: number;
}

export type ReportFormat = 'json' | 'md' | 'html';

export interface ReportContent {
  kind: 'postwarden.dns-posture-report';
  version: 1;
  domain: string;
  generatedAt: string;
  resolver: string;
  audit: Omit<AuditResult, 'durationMs'>;
  /** Findings are posture finding ids and, for the latest self-assessment run, `self-assessment.<check>`. */
  controls: { id: string; framework: string; reference: string; title: string; evidence?: string[]; findings: string[] }[];
  transportTls?: TransportTlsStats;
  selfAssessment?: ReportSelfAssessment;
  recordsOfProcessing?: ReportProcessingRecords;
  dataProtection?: ReportDataProtection;
}

export interface EvidenceReport {
  content: ReportContent;
  digest: string;
}

/** JSON with sorted keys and no whitespace; arrays keep their (already deterministic) order. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

export interface ReportOptions {
  generatedAt: string;
  transportTls?: TransportTlsStats;
  selfAssessment?: ReportSelfAssessment;
  recordsOfProcessing?: ReportProcessingRecords;
  dataProtection?: ReportDataProtection;
}

export function buildReport(audit: AuditResult, opts: ReportOptions): EvidenceReport {
  const { durationMs: _wallClock, ...rest } = audit;
  const assessed = opts.selfAssessment?.latest?.findings ?? [];
  const content: ReportContent = {
    kind: 'postwarden.dns-posture-report',
    version: 1,
    domain: audit.domain,
    generatedAt: opts.generatedAt,
    resolver: audit.resolver,
    audit: rest,
    controls: controls.map((c) => ({
      ...c,
      findings: [
        ...new Set([
          ...audit.findings.filter((f) => f.controls.includes(c.id)).map((f) => f.id),
          ...assessed.filter((f) => f.controls.includes(c.id)).map((f) => `self-assessment.${f.check}`),
        ]),
      ].sort(),
    })),
    ...(opts.transportTls ? { transportTls: opts.transportTls } : {}),
    ...(opts.selfAssessment ? { selfAssessment: opts.selfAssessment } : {}),
    ...(opts.recordsOfProcessing ? { recordsOfProcessing: opts.recordsOfProcessing } : {}),
    ...(opts.dataProtection ? { dataProtection: opts.dataProtection } : {}),
  };
  return { content, digest: createHash('sha256').update(canonicalJson(content), 'utf8').digest('hex') };
}

export function renderReport(report: EvidenceReport, format: ReportFormat): string {
  switch (format) {
    case 'json':
      return `${JSON.stringify({ ...report.content, digest: { algorithm: 'sha256', over: 'canonical JSON of this document without "digest"', value: report.digest } }, null, 2)}\n`;
    case 'md':
      return renderMarkdown(report);
    case 'html':
      return renderHtml(report);
    default: {
      const never: never = format;
      return never;
    }
  }
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

function renderMarkdown({ content: c, digest }: EvidenceReport): string {
  const a = c.audit;
  const lines = [
    `# DNS posture evidence: ${c.domain}`,
    '',
    `- Generated: ${c.generatedAt}`,
    `- Audited: ${a.auditedAt}`,
    `- Resolver: ${c.resolver}`,
    `- Findings: ${Object.entries(a.summary)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
    `- SHA-256 digest: \`${digest}\``,
    '',
    '## Findings',
    '',
    '| Severity | Id | Subject | Found | RFC | Fix |',
    '| --- | --- | --- | --- | --- | --- |',
    ...a.findings.map((f) => `| ${f.severity} | ${f.id} | ${mdCell(f.subject)} | ${mdCell(f.found)} | ${f.rfc} | ${mdCell(f.fix ?? '')} |`),
    '',
    '## Control mapping',
    '',
    '| Framework | Reference | Control | Findings | Evidence kept |',
    '| --- | --- | --- | --- | --- |',
    ...c.controls.map(
      (k) =>
        `| ${k.framework} | ${k.reference} | ${k.title} | ${k.findings.join(', ') || 'none'} | ${mdCell((k.evidence ?? []).join('\n'))} |`,
    ),
    '',
    '## Authorized senders (SPF)',
    '',
    ...(a.senders.length ? a.senders.map((s) => `- ${s.service}: \`${s.mechanism}\` (via ${s.via.join(' → ')})`) : ['- none']),
    '',
  ];
  if (c.transportTls) {
    const t = c.transportTls;
    lines.push(
      '## Transport TLS statistics',
      '',
      `Period ${t.period}, ${t.deliveries} deliveries: TLS ${pct(t.tlsShare)}, verified ${pct(t.verifiedShare)}, MTA-STS ${pct(t.mtaStsShare)}, DANE ${pct(t.daneShare)}.`,
      '',
    );
  }
  if (c.selfAssessment) lines.push(...selfAssessmentMarkdown(c.selfAssessment));
  if (c.recordsOfProcessing) lines.push(...recordsMarkdown(c.recordsOfProcessing));
  if (c.dataProtection) lines.push(...dataProtectionMarkdown(c.dataProtection));
  lines.push('## Queries and answers', '', '| Name | Type | Outcome | AD | Answers |', '| --- | --- | --- | --- | --- |');
  for (const q of a.queries)
    lines.push(
      `| ${q.name} | ${q.type} | ${q.outcome}${q.error ? ` (${mdCell(q.error)})` : ''} | ${q.authenticated ? 'yes' : 'no'} | ${mdCell(q.answers.join('\n'))} |`,
    );
  lines.push('');
  return lines.join('\n');
}

const STYLE = `body{font:14px/1.45 system-ui,sans-serif;margin:2rem;color:#1b1b1b}table{border-collapse:collapse;width:100%;margin:1rem 0}
th,td{border:1px solid #ccc;padding:.3rem .5rem;text-align:left;vertical-align:top}th{background:#f2f2f2}code,pre{font-family:ui-monospace,monospace;white-space:pre-wrap;word-break:break-all}
.critical{color:#8b0000;font-weight:bold}.high{color:#b22222}.medium{color:#a0522d}.low{color:#555}.info{color:#2f4f4f}`;

function renderHtml({ content: c, digest }: EvidenceReport): string {
  const h = escapeHtml;
  const a = c.audit;
  const row = (cells: string[]) => `<tr>${cells.map((x) => `<td>${x}</td>`).join('')}</tr>`;
  const head = (cells: string[]) => `<tr>${cells.map((x) => `<th>${h(x)}</th>`).join('')}</tr>`;
  const parts = [
    '<!DOCTYPE html>',
    '<html lang="en"><head><meta charset="utf-8">',
    `<title>DNS posture evidence: ${h(c.domain)}</title>`,
    `<style>${STYLE}</style></head><body>`,
    `<h1>DNS posture evidence: ${h(c.domain)}</h1>`,
    '<dl>',
    `<dt>Generated</dt><dd>${h(c.generatedAt)}</dd>`,
    `<dt>Audited</dt><dd>${h(a.auditedAt)}</dd>`,
    `<dt>Resolver</dt><dd>${h(c.resolver)}</dd>`,
    `<dt>Findings</dt><dd>${h(
      Object.entries(a.summary)
        .map(([k, v]) => `${k} ${v}`)
        .join(', '),
    )}</dd>`,
    `<dt>SHA-256 digest</dt><dd><code id="digest">${h(digest)}</code></dd>`,
    '</dl>',
    '<h2>Findings</h2><table>',
    head(['Severity', 'Id', 'Subject', 'Found', 'Why it matters', 'RFC', 'Fix']),
    ...a.findings.map((f) =>
      row([
        `<span class="${h(f.severity)}">${h(f.severity)}</span>`,
        `<code>${h(f.id)}</code>`,
        h(f.subject),
        h(f.found),
        h(f.why),
        h(f.rfc),
        f.fix ? `<pre>${h(f.fix)}</pre>` : '',
      ]),
    ),
    '</table>',
    '<h2>Control mapping</h2><table>',
    head(['Framework', 'Reference', 'Control', 'Findings', 'Evidence kept']),
    ...c.controls.map((k) =>
      row([
        h(k.framework),
        h(k.reference),
        h(k.title),
        h(k.findings.join(', ') || 'none'),
        k.evidence?.length ? `<ul>${k.evidence.map((e) => `<li>${h(e)}</li>`).join('')}</ul>` : '',
      ]),
    ),
    '</table>',
    '<h2>Authorized senders (SPF)</h2><table>',
    head(['Service', 'Mechanism', 'Via']),
    ...a.senders.map((s) => row([h(s.service), `<code>${h(s.mechanism)}</code>`, h(s.via.join(' → '))])),
    '</table>',
  ];
  if (c.transportTls) {
    const t = c.transportTls;
    parts.push(
      '<h2>Transport TLS statistics</h2><table>',
      head(['Period', 'Deliveries', 'TLS', 'Verified', 'MTA-STS', 'DANE']),
      row([h(t.period), String(t.deliveries), pct(t.tlsShare), pct(t.verifiedShare), pct(t.mtaStsShare), pct(t.daneShare)]),
      '</table>',
    );
  }
  if (c.selfAssessment) parts.push(...selfAssessmentHtml(c.selfAssessment));
  if (c.recordsOfProcessing) parts.push(...recordsHtml(c.recordsOfProcessing));
  if (c.dataProtection) parts.push(...dataProtectionHtml(c.dataProtection));
  parts.push(
    '<h2>Queries and answers</h2><table>',
    head(['Name', 'Type', 'Outcome', 'AD', 'Answers']),
    ...a.queries.map((q) =>
      row([
        h(q.name),
        h(q.type),
        h(q.outcome + (q.error ? ` (${q.error})` : '')),
        q.authenticated ? 'yes' : 'no',
        `<pre>${h(q.answers.join('\n'))}</pre>`,
      ]),
    ),
    '</table>',
    '</body></html>',
    '',
  );
  return parts.join('\n');
}
