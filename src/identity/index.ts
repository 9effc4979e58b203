export type { DkimAlgorithm, DkimKeyRow, DkimKeyStatus } from '../store/index.js';
export type { AlignmentInput, AlignmentResult } from './alignment.js';
export { computeAlignment, domainsAlign } from './alignment.js';
export type { DkimKeyCheck, DkimKeyMaterial } from './dkim-keys.js';
export {
  checkDkimPrivateKey,
  dkimAlgorithms,
  dkimDnsName,
  dkimKeyAad,
  dkimTxtValue,
  dnsPublicKey,
  generateDkimKey,
  isDkimAlgorithm,
  minRsaBits,
  nextSelector,
} from './dkim-keys.js';
export { createDkimPreview, type DkimPreview, withoutSignatureValues } from './dkim-preview.js';
export type { DkimSignatureResult, DkimSigningKey } from './dkim-signature.js';
export { oversignedHeaderNames, relaxedBodyHash, relaxedHeader, signDkim, signedHeaderNames } from './dkim-signature.js';
export type { DkimSignatureInfo, DkimSigner, DkimSignerDeps, DkimSignerStats, SignedMessage } from './dkim-signer.js';
export { createDkimSigner, defaultDkimThreads, spawnDkimWorker } from './dkim-signer.js';
export type {
  DiscoverOptions,
  DmarcEvaluation,
  DmarcEvaluationInput,
  DmarcPolicyDiscovery,
  ReportDestinationCheck,
} from './dmarc.js';
export { checkReportDestinations, discoverPolicy, evaluateDmarc } from './dmarc.js';
export type {
  AdvisorOptions,
  CurrentDmarcPolicy,
  DailyAggregate,
  DmarcAdvice,
  DmarcStage,
  PlatformDailySends,
  SourceSummary,
} from './dmarc-advisor.js';
export { adviseDmarcPolicy, stageOf } from './dmarc-advisor.js';
export type {
  AlignmentMode,
  DmarcIssue,
  DmarcIssueSeverity,
  DmarcParseResult,
  DmarcPolicy,
  DmarcRecord,
  DmarcUri,
} from './dmarc-record.js';
export { formatDmarcRecord, isDmarcRecord, parseDmarcRecord, parseDmarcUri } from './dmarc-record.js';
export type { DomainRecord, DomainRecordKind, PlatformIdentity } from './domain-records.js';
export { dmarcRecordValue, domainRecords, platformSpfRecord, platformSpfTerms } from './domain-records.js';
export type { DomainVerification, RecordCheck, RecordStatus } from './domain-verification.js';
export { checkRecord, verifyDomainRecords } from './domain-verification.js';
export type { AddedDomain, DkimRecordInfo, DnsRecord, Domains, DomainsDeps, ScheduleReport } from './domains.js';
export { createDomains, parseStreams } from './domains.js';
export type { FindingSeverity, IdentityFinding } from './finding.js';
export type { DmarcLookup, DmarcLookupOutcome, OrgDomainMethod, OrgDomainOptions, OrgDomainResult } from './org-domain.js';
export { lookupDmarc, organizationalDomain, organizationalDomainByPsl, treeWalkNames } from './org-domain.js';
export type { IdentityMonitor, MessageIdentity, SendingIdentity, SendingIdentityDeps } from './sending-identity.js';
export { createSendingIdentity } from './sending-identity.js';
export type { CheckHostInput, SpfCheckResult, SpfDeps, SpfIdentityInput, SpfLimits, SpfResultCode } from './spf.js';
export { checkHost, checkSpf, defaultSpfLimits, malformedDomain } from './spf.js';
export type { SpfAnalysis, SpfAnalysisOptions, SpfFetch, SpfRecordAnalysis, SpfTermAnalysis } from './spf-analysis.js';
export { analyseSpf, fetchSpfRecord, walkSpf } from './spf-analysis.js';
export type { FlattenDrift, FlattenOptions, FlattenSource, PublishTxtRecord, SpfFlattening } from './spf-flatten.js';
export { checkFlattenedDrift, compareFlattened, proposeFlattening, splitTxtStrings } from './spf-flatten.js';
export type { SpfDirective, SpfMechanism, SpfModifier, SpfParseResult, SpfQualifier, SpfRecord, SpfSyntaxError } from './spf-record.js';
export { isSpfRecord, parseSpfRecord } from './spf-record.js';
export type { VerpDecoded, VerpInput, VerpKey } from './verp.js';
export { bounceDomainFor, decodeVerp, deriveVerpKey, encodeVerp } from './verp.js';
export {
  DkimKeyJson,
  DnsRecordJson,
  DomainJson,
  dkimKeyJson,
  domainJson,
  recordJson,
  VerificationJson,
  verificationJson,
} from './wire.js';
