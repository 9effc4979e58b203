/**
 * Feedback: what comes back after sending. Pure, storage-free parsers and the versioned bounce
 * classifier; the suppression list and one-click unsubscribe (services over the store); the inbound
 * MX and events are wired elsewhere.
 */

export { type ArfReport, type AuthFailureDetails, type FeedbackType, parseArf, parseArfMessage } from './arf.js';
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
export { type MailMessage, type MailPart, readMessage } from './mail-message.js';
export type { OriginalMessage } from './original-message.js';
export { loadProviderMap, type ProviderMap, providerOf } from './providers.js';
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
export { csvColumns, type SuppressionJson, suppressionJson, suppressionsFromCsv, suppressionsToCsv } from './suppression-csv.js';
export { parseTlsRpt, type ReportedResultType, type TlsReport, type TlsReportPolicy, type TlsRptParse } from './tls-rpt.js';
export { createUnsubscribe, type Unsubscribe, type UnsubscribeDeps } from './unsubscribe.js';
export {
  decodeUnsubscribeToken,
  deriveUnsubscribeKey,
  encodeUnsubscribeToken,
  type UnsubscribeClaims,
  type UnsubscribeDecoded,
} from './unsubscribe-token.js';
