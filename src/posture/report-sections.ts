import { selfAssessmentControls } from './controls.js';

/**
 * The sections of the evidence report that come from outside DNS: the platform's self-assessment
 * (src/self-assessment) and the tenant's records of processing (src/compliance). Posture imports
 * neither concern, so the shapes it reads of them are declared here; the edge that builds a report
 * (the API, the CLI) hands in what those concerns answered, and the compiler holds the two together.
 * Each section renders as Markdown and as HTML with every value escaped (the report is self-contained).
 */

/** A run of the platform's self-assessment as GET /v1/self-assessment lists it (newest first). */
export interface SelfAssessmentRunInput {
  id: string;
  started_at: string;
  finished_at: string;
  status: string;
  findings: { check: string; listener: string; severity: string; title: string; detail: string; observed_at: string }[];
}

export interface ReportSelfAssessmentFinding {
  check: string;
  listener: string;
  severity: string;
  title: string;
  detail: string;
  /** When the run observed it (ISO). */
  observed_at: string;
  controls: string[];
}

/** The latest self-assessment run with its findings, and the runs before it (dates and counts). */
export interface ReportSelfAssessment {
  /** null: no run is recorded. */
  latest: {
    id: string;
    started_at: string;
    finished_at: string;
    status: string;
    /** Findings other than informational ones. */
    open_findings: number;
    findings: ReportSelfAssessmentFinding[];
  } | null;
  /** Earlier runs, newest first. */
  history: { id: string; started_at: string; status: string; findings: number }[];
}

/** Messages per TLS evidence (src/compliance, records of processing). */
export interface ReportTlsCounts {
  dane: number;
  verified: number;
  opportunistic: number;
  plaintext: number;
}
interface ReportCounts {
  accepted: number;
  sandbox: number;
  delivered_messages: number;
  delivered_recipients: number;
  tls: ReportTlsCounts;
}

/** What the report shows of a tenant's records of processing (GET /v1/compliance/records-of-processing answers the whole). */
export interface ReportProcessingRecords {
  tenant_id: string;
  period: { from: string; to: string };
  flows: (ReportCounts & { stream: string; classification: string | null })[];
  classifications: (ReportCounts & { classification: string | null; streams: string[] })[];
  totals: ReportCounts;
  third_parties: {
    name: string;
    status: string;
    purpose: string | null;
    data_categories: string[];
    dpa: { signed_at: string; reference: string } | null;
    certifications: { name: string; issuer: string; expires_at: string; current: boolean }[];
    review_due_at: string | null;
    review_overdue: boolean;
  }[];
  retention: { data_class: string; max_days: number | null; min_days: number | null; custom: boolean }[];
  /** Retention classes and the classification policies naming them; absent in reports made before them. */
  retention_classes?: {
    name: string;
    max_days: number | null;
    min_days: number | null;
    policies: { rule: string; classification: string }[];
  }[];
}

/** Runs of the self-assessment (newest first) as the report's section: the latest in full, the rest as dates and counts. */
export function selfAssessmentSection(runs: readonly SelfAssessmentRunInput[]): ReportSelfAssessment {
  const [latest, ...earlier] = runs;
  return {
    latest: latest
      ? {
          id: latest.id,
          started_at: latest.started_at,
          finished_at: latest.finished_at,
          status: latest.status,
          open_findings: latest.findings.filter((f) => f.severity !== 'info').length,
          findings: latest.findings.map((f) => ({
            check: f.check,
            listener: f.listener,
            severity: f.severity,
            title: f.title,
            detail: f.detail,
            observed_at: f.observed_at,
            controls: [...(selfAssessmentControls[f.check] ?? [])].sort(),
          })),
        }
      : null,
    history: earlier.map((r) => ({ id: r.id, started_at: r.started_at, status: r.status, findings: r.findings.length })),
  };
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch]!);
}
export const mdCell = (s: string) => s.replace(/\|/g, '\\|').replace(/\r?\n/g, '<br>');
const share = (part: number, whole: number) => (whole ? `${((part / whole) * 100).toFixed(1)}%` : '-');
const label = (c: string | null) => c ?? 'unclassified';
const days = (d: number | null, none: string) => (d === null ? none : `${d} days`);
const evidenceHeads = ['DANE', 'Verified TLS', 'Opportunistic TLS', 'Plaintext'];
const evidenceCells = (t: ReportTlsCounts) => [t.dane, t.verified, t.opportunistic, t.plaintext].map(String);
const protectedShare = (c: ReportCounts) => share(c.tls.dane + c.tls.verified, c.delivered_recipients);
const certificates = (t: ReportProcessingRecords['third_parties'][number]) =>
  t.certifications.map((c) => `${c.name} (${c.issuer}) until ${c.expires_at.slice(0, 10)}${c.current ? '' : ', lapsed'}`).join('; ') ||
  'none';
const dpaOf = (t: ReportProcessingRecords['third_parties'][number]) =>
  t.dpa ? `${t.dpa.reference}, signed ${t.dpa.signed_at.slice(0, 10)}` : 'none';
const reviewOf = (t: ReportProcessingRecords['third_parties'][number]) =>
  t.review_due_at ? `${t.review_due_at.slice(0, 10)}${t.review_overdue ? ' (overdue)' : ''}` : 'not set';

/** A Markdown table from a head and rows of cells (cells escaped here). */
function mdTable(head: string[], rows: string[][]): string[] {
  return [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.map(mdCell).join(' | ')} |`)];
}

/** An HTML table from a head and rows of plain-text cells (every cell escaped here). */
function htmlTable(head: string[], rows: string[][]): string[] {
  const h = escapeHtml;
  return [
    '<table>',
    `<tr>${head.map((x) => `<th>${h(x)}</th>`).join('')}</tr>`,
    ...rows.map((r) => `<tr>${r.map((x) => `<td>${h(x)}</td>`).join('')}</tr>`),
    '</table>',
  ];
}

function selfAssessmentRows(sa: ReportSelfAssessment) {
  const latest = sa.latest;
  return {
    summary: latest
      ? `Latest run ${latest.id}: started ${latest.started_at}, finished ${latest.finished_at}, ${latest.status}, ${latest.open_findings} open finding(s).`
      : 'No self-assessment run is recorded.',
    findings: (latest?.findings ?? []).map((f) => [f.severity, f.listener, f.check, f.title, f.observed_at, f.controls.join(', ') || '-']),
    history: sa.history.map((r) => [r.started_at, r.id, r.status, String(r.findings)]),
  };
}
const findingHead = ['Severity', 'Listener', 'Check', 'Finding', 'Observed', 'Controls'];
const historyHead = ['Started', 'Run', 'Status', 'Findings'];

export function selfAssessmentMarkdown(sa: ReportSelfAssessment): string[] {
  const r = selfAssessmentRows(sa);
  return [
    '## Continuous self-assessment',
    '',
    r.summary,
    '',
    ...(r.findings.length ? [...mdTable(findingHead, r.findings), ''] : []),
    ...(r.history.length ? ['Earlier runs:', '', ...mdTable(historyHead, r.history), ''] : []),
  ];
}

export function selfAssessmentHtml(sa: ReportSelfAssessment): string[] {
  const r = selfAssessmentRows(sa);
  return [
    '<h2>Continuous self-assessment</h2>',
    `<p>${escapeHtml(r.summary)}</p>`,
    ...(r.findings.length ? htmlTable(findingHead, r.findings) : []),
    ...(r.history.length ? ['<h3>Earlier runs</h3>', ...htmlTable(historyHead, r.history)] : []),
  ];
}

function recordsRows(r: ReportProcessingRecords) {
  const t = r.totals;
  return {
    summary: `Period ${r.period.from} to ${r.period.to}: ${t.accepted} message(s) accepted (${t.sandbox} captured by the sandbox), ${t.delivered_messages} delivered to ${t.delivered_recipients} recipient(s), ${protectedShare(t)} of them over verified or DANE-authenticated TLS.`,
    classifications: r.classifications.map((c) => [
      label(c.classification),
      c.streams.join(', '),
      String(c.accepted),
      String(c.delivered_messages),
      String(c.delivered_recipients),
      ...evidenceCells(c.tls),
    ]),
    flows: r.flows.map((f) => [
      f.stream,
      label(f.classification),
      String(f.accepted),
      String(f.delivered_recipients),
      ...evidenceCells(f.tls),
    ]),
    thirdParties: r.third_parties.map((p) => [
      p.name,
      p.status,
      p.purpose ?? 'not recorded',
      p.data_categories.join(', ') || 'not recorded',
      dpaOf(p),
      certificates(p),
      reviewOf(p),
    ]),
    retention: r.retention.map((p) => [
      p.data_class,
      days(p.max_days, 'not purged automatically'),
      days(p.min_days, 'none'),
      p.custom ? 'tenant' : 'default',
    ]),
    retentionClasses: (r.retention_classes ?? []).map((c) => [
      c.name,
      days(c.max_days, 'not purged automatically'),
      days(c.min_days, 'none'),
      c.policies.map((p) => `${p.classification} (${p.rule})`).join(', ') || 'named by no policy',
    ]),
  };
}
const classHead = ['Classification', 'Streams', 'Accepted', 'Messages delivered', 'Recipients delivered', ...evidenceHeads];
const flowHead = ['Stream', 'Classification', 'Accepted', 'Recipients delivered', ...evidenceHeads];
const partyHead = ['Third party', 'Status', 'Purpose', 'Data categories', 'DPA', 'Certifications', 'Review due'];
const retentionHead = ['Data class', 'Kept at most', 'Kept at least', 'Policy'];
const retentionClassHead = ['Retention class (message bodies)', 'Kept at most', 'Kept at least', 'Classifications (rule)'];

export function recordsMarkdown(r: ReportProcessingRecords): string[] {
  const x = recordsRows(r);
  return [
    '## Records of processing',
    '',
    x.summary,
    '',
    '### Messages per classification, by TLS evidence of delivery',
    '',
    ...(x.classifications.length ? mdTable(classHead, x.classifications) : ['No messages in the period.']),
    '',
    '### Data categories per stream',
    '',
    ...(x.flows.length ? mdTable(flowHead, x.flows) : ['No messages in the period.']),
    '',
    '### Third parties processing the data',
    '',
    ...(x.thirdParties.length ? mdTable(partyHead, x.thirdParties) : ['The third-party register is empty.']),
    '',
    '### Retention',
    '',
    ...mdTable(retentionHead, x.retention),
    '',
    ...(x.retentionClasses.length ? [...mdTable(retentionClassHead, x.retentionClasses), ''] : []),
  ];
}

export function recordsHtml(r: ReportProcessingRecords): string[] {
  const x = recordsRows(r);
  const none = (s: string) => [`<p>${escapeHtml(s)}</p>`];
  return [
    '<h2>Records of processing</h2>',
    `<p>${escapeHtml(x.summary)}</p>`,
    '<h3>Messages per classification, by TLS evidence of delivery</h3>',
    ...(x.classifications.length ? htmlTable(classHead, x.classifications) : none('No messages in the period.')),
    '<h3>Data categories per stream</h3>',
    ...(x.flows.length ? htmlTable(flowHead, x.flows) : none('No messages in the period.')),
    '<h3>Third parties processing the data</h3>',
    ...(x.thirdParties.length ? htmlTable(partyHead, x.thirdParties) : none('The third-party register is empty.')),
    '<h3>Retention</h3>',
    ...htmlTable(retentionHead, x.retention),
    ...(x.retentionClasses.length ? htmlTable(retentionClassHead, x.retentionClasses) : []),
  ];
}

/**
 * What the report shows of a tenant's data protection (src/compliance/data-protection.ts computes
 * it): encryption at rest (whether new writes are sealed, the share of the tenant's stored content
 * values that is, its data keys with their dates), residency, the legal holds in force (never an
 * address: an address hold shows as such) and the latest purge runs with the tenant's counts.
 */
export interface ReportDataProtection {
  tenant_id: string;
  encryption: {
    enabled: boolean;
    sealed: number;
    total: number;
    /** Sealed share of the tenant's stored content values, 0…1 (1 when nothing is stored). */
    share: number;
    keys: {
      id: string;
      purpose: string;
      version: number;
      state: string;
      provider: string;
      created_at: string;
      rewrapped_at: string | null;
      destroyed_at: string | null;
    }[];
  };
  residency: { node_region: string | null; tenant_region: string | null };
  holds: {
    id: string;
    kind: string;
    reason: string;
    placed_at: string;
    message_id: string | null;
    from: string | null;
    until: string | null;
  }[];
  purge_runs: {
    id: string;
    state: string;
    started_at: string;
    finished_at: string | null;
    bodies_purged: number;
    bodies_held: number;
    events_purged: number;
    events_held: number;
  }[];
}

const keyHead = ['Data key', 'Purpose', 'Version', 'State', 'KMS provider', 'Created', 'Re-wrapped', 'Destroyed'];
const holdHead = ['Hold', 'Kind', 'Scope', 'Reason', 'Placed'];
const runHead = ['Purge run', 'State', 'Started', 'Finished', 'Bodies purged', 'Bodies held', 'Events purged', 'Events held'];

function dataProtectionRows(d: ReportDataProtection) {
  const e = d.encryption;
  const r = d.residency;
  return {
    encryption: `Encryption at rest is ${e.enabled ? 'on' : 'off'} for new writes; ${e.sealed} of ${e.total} stored content values of the tenant are sealed (${(e.share * 100).toFixed(1)}%).`,
    residency: r.tenant_region
      ? `The tenant is pinned to region ${r.tenant_region}; this node is in ${r.node_region ?? 'no region'}, and nodes of other regions refuse its content.`
      : `The tenant is not pinned to a region (this node: ${r.node_region ?? 'no region'}).`,
    keys: e.keys.map((k) => [
      k.id,
      k.purpose,
      String(k.version),
      k.state,
      k.provider,
      k.created_at,
      k.rewrapped_at ?? 'never',
      k.destroyed_at ?? '-',
    ]),
    holds: d.holds.map((h) => [
      h.id,
      h.kind,
      h.kind === 'message'
        ? (h.message_id ?? '')
        : h.kind === 'range'
          ? `${h.from ?? 'the beginning'} to ${h.until ?? 'open'}`
          : h.kind === 'address'
            ? 'one address (kept as its keyed hash)'
            : 'everything of the tenant',
      h.reason,
      h.placed_at,
    ]),
    runs: d.purge_runs.map((p) => [
      p.id,
      p.state,
      p.started_at,
      p.finished_at ?? '-',
      String(p.bodies_purged),
      String(p.bodies_held),
      String(p.events_purged),
      String(p.events_held),
    ]),
  };
}

export function dataProtectionMarkdown(d: ReportDataProtection): string[] {
  const x = dataProtectionRows(d);
  return [
    '## Data protection',
    '',
    x.encryption,
    '',
    x.residency,
    '',
    '### Data keys',
    '',
    ...(x.keys.length ? mdTable(keyHead, x.keys) : ['No data key yet (nothing sealed).']),
    '',
    '### Legal holds in force',
    '',
    ...(x.holds.length ? mdTable(holdHead, x.holds) : ['No legal hold in force.']),
    '',
    '### Latest purge runs',
    '',
    ...(x.runs.length ? mdTable(runHead, x.runs) : ['No purge run yet.']),
    '',
  ];
}

export function dataProtectionHtml(d: ReportDataProtection): string[] {
  const x = dataProtectionRows(d);
  const p = (s: string) => `<p>${escapeHtml(s)}</p>`;
  return [
    '<h2>Data protection</h2>',
    p(x.encryption),
    p(x.residency),
    '<h3>Data keys</h3>',
    ...(x.keys.length ? htmlTable(keyHead, x.keys) : [p('No data key yet (nothing sealed).')]),
    '<h3>Legal holds in force</h3>',
    ...(x.holds.length ? htmlTable(holdHead, x.holds) : [p('No legal hold in force.')]),
    '<h3>Latest purge runs</h3>',
    ...(x.runs.length ? htmlTable(runHead, x.runs) : [p('No purge run yet.')]),
  ];
}
