export { backupSqlite, type SqliteBackupResult } from './backup.js';
export { createStore, type Repositories, type Store, type StoreOptions } from './db.js';
export type { DialectName, Durability, DurabilityReport } from './dialect.js';
export type { ThrottleRow } from './repositories/access-throttle.js';
export type { ApiKeyRow } from './repositories/api-keys.js';
export type { AuditCheckpointRow, AuditEntryRow, AuditFilter, AuditSigningKeyRow } from './repositories/audit.js';
export type { CapturedRow } from './repositories/captured.js';
export type { ClassificationPolicyRow, SelfAssessmentRow } from './repositories/classification.js';
export type { DmarcSourceRow, IncidentReminderRow, IncidentRow, ThirdPartyRow } from './repositories/compliance.js';
export type { DkimAlgorithm, DkimKeyRow, DkimKeyStatus } from './repositories/dkim-keys.js';
export type { DomainRow } from './repositories/domains.js';
export type { EventPage } from './repositories/events.js';
export type { AssignmentRow, ExperimentEvent, ExperimentRow } from './repositories/experiments.js';
export type { DmarcRecordRow, FeedbackDocumentRow, ReportClaim, TlsReportRow } from './repositories/feedback.js';
export type { IdempotencyBegin } from './repositories/idempotency.js';
export type { ImportFindingRow, ListImportRow, ListMemberRow, ListRow } from './repositories/lists.js';
export type { DeliveryMessage, MessageRow, MessageSearch, MessageTemplateRef } from './repositories/messages.js';
export type { MtaStsPolicyRow } from './repositories/mta-sts-policies.js';
export type { AcceptanceSample, OutcomeEventRow, RetrySample } from './repositories/outcomes.js';
export type { DnsSnapshotRow } from './repositories/posture.js';
export type { AcceptedCount, DeliveredCount, DeliveredMessages, TlsEvidence } from './repositories/processing-records.js';
export type { ClaimOptions, HeldRecipient, RecipientRow, Settle } from './repositories/recipients.js';
export type { CountIncrement, ReputationHoldRow, ReputationKeyFilter, ReputationKeyRow } from './repositories/reputation.js';
export { ERASED, type ErasureCounts, type HoldRow, redactAddress } from './repositories/retention.js';
export type { SessionRow } from './repositories/sessions.js';
export type { SsoProtocol, SsoProviderRow, SsoRequestRow } from './repositories/sso.js';
export type { SuppressionChangeRow, SuppressionFilter, SuppressionRow } from './repositories/suppressions.js';
export type { TemplateRow, TemplateVersionRow } from './repositories/templates.js';
export type { AlignmentPolicy, Tenant } from './repositories/tenants.js';
export type { TlsAttemptRow, TlsRptAggregate, TlsStatsRow } from './repositories/tls-attempts.js';
export type { TrackingSettingsRow } from './repositories/tracking.js';
export type { RoleRow, UserPatch, UserRow } from './repositories/users.js';
export type { WarmupPoolRow } from './repositories/warmup.js';
export type {
  ClaimedWebhookDelivery,
  NewWebhookDelivery,
  WebhookAttemptRow,
  WebhookDeliveryRow,
  WebhookDeliveryState,
} from './repositories/webhook-deliveries.js';
export type { WebhookEndpointPatch, WebhookEndpointRow } from './repositories/webhook-endpoints.js';
export {
  chooseSqliteDriver,
  nodeSqliteUnavailable,
  openSqlite,
  type SqliteConnection,
  type SqliteDriverName,
  type SqliteDriverSetting,
} from './sqlite-driver.js';
