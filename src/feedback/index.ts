/**
 * Feedback: what comes back after sending. Pure parsers and the versioned bounce classifier; the
 * ingestion service (createFeedbackIngest) that links documents to what we sent, stores them and
 * appends their events (the inbound MX in smtp/ and POST /v1/feedback in api/ call it); and the
 * suppression list with one-click unsubscribe (services over the store).
 */

export { type ArfReport, type AuthFailureDetails, type FeedbackType, parseArf, parseArfMessage } from './arf.js';
export { type Attribution, attribute } from './attribution.js';
export { type AutoReply, detectAutoReply, parseAutoReply } from './auto-reply.js';
export {
  BOUNCE_CATEGORIES,
  type BounceCategory,
  type BounceRule,
  compileRuleset,
  type DsnProblemAction,
  loadRuleset,
  RULE_TIERS,
  type RuleExample,
  type RuleProblem,
  type Ruleset,
  RulesetError,
  type RuleTier,
} from './bounce-rules.js';
export type { BounceVendor } from './bounce-vendor.js';
export {
  type Classification,
  type ClassifyInput,
  classify,
  classifyLine,
  findEnhancedCode,
  mostSpecificStatus,
  replyFromLine,
  smtpCommand,
} from './classifier.js';
export {
  type ClassifiedRecipient,
  classifyRecipients,
  type Feedback,
  type FeedbackKind,
  type FeedbackMessageInfo,
  type ParseFeedbackOptions,
  parseFeedback,
  type ReportError,
} from './detect.js';
export { type DmarcAggregateParse, type DmarcAggregateReport, type DmarcRecord, parseDmarcAggregate } from './dmarc-aggregate.js';
export { type DsnAction, type DsnRecipient, type DsnReport, parseDsn, parseDsnMessage } from './dsn.js';
export { bounceSuppression } from './feedback-outcomes.js';
export type { HeaderField } from './header-fields.js';
export {
  createFeedbackIngest,
  type FeedbackIngest,
  type FeedbackIngestDeps,
  type IngestedRecipient,
  type IngestInput,
  type IngestResult,
  type Suppress,
  type SuppressRequest,
} from './ingest.js';
export { type MailMessage, type MailPart, readMessage } from './mail-message.js';
export { decideMailbox, type MailboxDecision, type MailboxPolicy, REPORT_MAILBOXES, type ReportMailbox } from './mailboxes.js';
export type { OriginalMessage } from './original-message.js';
export { loadProviderMap, type ProviderMap, providerOf } from './providers.js';
export { classifySources, type SourceClass, type SpfAuthorizes } from './report-records.js';
export {
  type DmarcSourceSummary,
  type DmarcSummary,
  summariseDmarc,
  summariseTlsReports,
  type TlsPolicyStats,
} from './report-summary.js';
export { defaultProviderMapPath, defaultRulesetPath, loadDefaultProviderMap, loadDefaultRuleset } from './rules-files.js';
export {
  createSuppressions,
  type EntryInput,
  type SuppressInput,
  type SuppressionChange,
  type SuppressionEntry,
  type SuppressionPolicy,
  type Suppressions,
  type SuppressOutcome,
} from './suppression.js';
export {
  csvColumns,
  SuppressionChangeJson,
  SuppressionJson,
  suppressionChangeJson,
  suppressionJson,
  suppressionsFromCsv,
  suppressionsToCsv,
} from './suppression-csv.js';
export { type ImportFile, type ImportFormat, importFormats, readSuppressionImport } from './suppression-formats.js';
export { parseTlsRpt, type ReportedResultType, type TlsReport, type TlsReportPolicy, type TlsRptParse } from './tls-rpt.js';
export { createUnsubscribe, type Unsubscribe, type UnsubscribeDeps } from './unsubscribe.js';
export {
  decodeUnsubscribeToken,
  deriveUnsubscribeKey,
  encodeUnsubscribeToken,
  type UnsubscribeClaims,
  type UnsubscribeDecoded,
} from './unsubscribe-token.js';
