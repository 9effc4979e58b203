/**
 * Transport policy: MTA-STS (RFC 8461), DANE for SMTP (RFC 7672) and the per-host TLS decision that
 * combines them with the tenant's policy. Shared by delivery (enforcement) and posture (audits).
 */

export type { DaneInput, DaneParameters, DaneResult, DaneStatus } from './dane.js';
export {
  DANE_EE,
  DANE_TA,
  evaluateDane,
  presentTlsa,
  tlsaRecordFor,
  tlsaUnusableReason,
  usableTlsaRecords,
} from './dane.js';
export type { DaneState } from './dane-lookup.js';
export { daneStateFromLookup, lookupDane, tlsaOwner } from './dane-lookup.js';
export type { MtaStsMode, MtaStsPolicy, MtaStsPolicyParse, MtaStsProblem, MtaStsTxtParse } from './mta-sts.js';
export {
  MAX_MAX_AGE,
  mxMatches,
  normaliseMxPattern,
  parseMtaStsPolicy,
  parseMtaStsTxt,
  policyAllowsMx,
} from './mta-sts.js';
export type {
  CachedMtaStsPolicy,
  MtaStsCache,
  MtaStsCacheDeps,
  MtaStsLookup,
  MtaStsStore,
  StsFailureType,
} from './mta-sts-cache.js';
export { createInMemoryMtaStsStore, createMtaStsCache } from './mta-sts-cache.js';
export type {
  ConnectTarget,
  FetchResult,
  HttpsPolicyFetcherOptions,
  PeerCertificateSummary,
  PolicyFetcher,
  PolicyFetchFailure,
} from './mta-sts-fetcher.js';
export { createHttpsPolicyFetcher, DEFAULT_MAX_POLICY_BYTES, isTextPlain, policyUrl } from './mta-sts-fetcher.js';
export type { ObservedTls, TlsEvidence, TlsOutcome } from './tls-outcome.js';
export { checkTlsOutcome, observeTlsSocket, resultTypeForCertError } from './tls-outcome.js';
export type {
  MtaStsInForce,
  MxTlsPlan,
  TenantTlsPolicy,
  TlsDecision,
  TlsDecisionInput,
  TlsPolicySource,
  TlsVerification,
} from './tls-policy.js';
export { decideTls, planMxTls } from './tls-policy.js';
export type {
  TlsRptFailureDetail,
  TlsRptPolicyInput,
  TlsRptPolicyType,
  TlsRptRecordParse,
  TlsRptReportInput,
} from './tls-rpt-report.js';
export { buildTlsRptReport, parseTlsRptRecord, tlsRptFilename, tlsRptMessage, tlsRptSubject } from './tls-rpt-report.js';
export type { TlsDomainCounts, TlsShares, TlsStatsReport } from './tls-stats.js';
export { summariseTlsStats } from './tls-stats.js';
