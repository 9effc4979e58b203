/**
 * Posture: DNS audits of any mail domain (MX, SPF, DKIM, DMARC, MTA-STS, TLS-RPT, DNSSEC/DANE,
 * BIMI), evidence reports with a control mapping, and the monitor that snapshots managed and watched
 * domains on a schedule and turns changes into `dns.changed` and `dns.alert` events.
 */
export type { AuditDeps, AuditOptions, AuditResult, AuditSection } from './audit.js';
export { auditDomain, auditDomainName } from './audit.js';
export type { CatalogueEntry } from './catalogue.js';
export { catalogue, findingIds } from './catalogue.js';
export { renderCatalogueMarkdown, renderControlsMarkdown } from './catalogue-doc.js';
export type { Control } from './controls.js';
export { areaControls, controls, controlsFor, extraControls, selfAssessmentControls } from './controls.js';
export type { DelegationInput, RegisteredSender, SeenSources } from './delegation.js';
export type { PostureArea, PostureFinding, PostureSeverity } from './finding.js';
export { postureAreas } from './finding.js';
export type { HttpsGetResult, HttpsGetter, HttpsGetterOptions } from './https-get.js';
export { createHttpsGetter } from './https-get.js';
export type { HistoryEntry, MonitorRun, PostureMonitor, PostureMonitorDeps, PostureStore } from './monitor.js';
export { createPostureMonitor } from './monitor.js';
export type { RecordedQuery } from './recording-resolver.js';
export type { EvidenceReport, ReportContent, ReportFormat, ReportOptions, TransportTlsStats } from './report.js';
export { buildReport, canonicalJson, renderReport } from './report.js';
export type { ReportDataProtection, ReportProcessingRecords, ReportSelfAssessment, SelfAssessmentRunInput } from './report-sections.js';
export { escapeHtml, selfAssessmentSection } from './report-sections.js';
export type { AuthorizedSender } from './sender-inventory.js';
export type { Alert, AlertKind, RecordChange, RecordState } from './snapshot-diff.js';
export { diffRecords, riskyChanges } from './snapshot-diff.js';
