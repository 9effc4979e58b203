/**
 * Feedback: what comes back after sending. Pure parsers and the versioned bounce classifier, and
 * the ingestion service (createFeedbackIngest) that links documents to what we sent, stores them
 * and appends their events; the inbound MX (smtp/) and POST /v1/feedback (api/) call it.
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
export { type Classification, type ClassifyInput, classify, classifyLine, findEnhancedCode, replyFromLine } from './classifier.js';
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
export { parseTlsRpt, type ReportedResultType, type TlsReport, type TlsReportPolicy, type TlsRptParse } from './tls-rpt.js';
