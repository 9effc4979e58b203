import type { ColumnType, Generated } from 'kysely';
import type { ClassificationTables } from './classification-schema.js';
import type { ComplianceTables } from './compliance-schema.js';
import type { EncryptionTables } from './encryption-schema.js';
import type { EngagementTables } from './engagement-schema.js';
import type { ReputationTables } from './reputation-schema.js';
import type { RetentionTables } from './retention-schema.js';

/**
 * Row types, one interface per table. Times are integer milliseconds since the epoch (bigint on
 * PostgreSQL, parsed back to numbers), JSON is stored as text on both dialects, booleans as 0/1, so the
 * same SQL and the same rows work everywhere.
 */
export interface TenantsTable {
  id: string;
  name: string;
  sandbox: number;
  max_message_bytes: number | null;
  rate_per_minute: number | null;
  created_at: number;
  /** Automatic suppression policy (1 = on), see migration 004. */
  suppress_on_hard_bounce: Generated<number>;
  suppress_on_complaint: Generated<number>;
  /** 'warn' | 'reject': what a send whose expected DMARC alignment fails gets. */
  alignment_policy: string;
  /** JSON `{ default, streams }` (migration 006); null means opportunistic. */
  tls_policy: string | null;
  /** Migration 025: the region the tenant's data is pinned to; null: not pinned. */
  data_region?: string | null;
}

export interface ApiKeysTable {
  id: string;
  tenant_id: string;
  name: string;
  /** SHA-256 of the secret, hex; the secret itself is never stored. */
  secret_hash: string;
  /** First characters of the secret, to recognise a key in lists. */
  hint: string;
  scopes: string;
  created_at: number;
  revoked_at: number | null;
}

export interface DomainsTable {
  id: string;
  tenant_id: string;
  name: string;
  created_at: number;
  /** JSON array of streams allowed to send as this domain; NULL: all. */
  streams: string | null;
  /** JSON of the last DNS verification report. */
  verification: string | null;
  checked_at: number | null;
  verified_at: number | null;
}

export interface MessagesTable {
  id: string;
  tenant_id: string;
  stream: string;
  from_address: string;
  subject: string;
  message_id_header: string;
  size: number;
  tags: string;
  metadata: string;
  source: string;
  sandbox: number;
  created_at: number;
  /** JSON: return path and expected alignment at accept time; NULL for messages accepted before. */
  identity: string | null;
  /** JSON `{ id, name, version, locale }` of the template it was rendered from (migration 017); NULL: literal content. */
  template?: string | null;
  /** Migration 024: SHA-256 (hex) of the stored body, kept after the body is purged. */
  body_sha256?: string | null;
  body_purged_at?: number | null;
  /** Why the body went: 'retention' | 'erasure'. */
  body_purge_reason?: string | null;
  /** JSON: the classification decision at accept time (migration 029); NULL: none applied. */
  classification?: string | null;
  /** Migration 030: the retention class its classification policy gave it; NULL: the tenant's `bodies` policy. */
  retention_class?: string | null;
}

export interface MessageBodiesTable {
  message_id: string;
  raw: Buffer;
}

export interface RecipientsTable {
  id: string;
  message_id: string;
  tenant_id: string;
  address: string;
  domain: string;
  kind: string;
  state: string;
  attempts: number;
  next_attempt_at: number;
  lease_owner: string | null;
  lease_expires_at: number | null;
  last_reply: string | null;
  created_at: number;
  updated_at: number;
  /** Migration 023: keyed hash of the address (HMAC, tenant index key); null before it. */
  address_hash?: string | null;
  /** Migration 025: why a node of another region left it queued (`residency: …`); null once claimed. */
  held_reason?: string | null;
}

export interface EventsTable {
  cursor: Generated<number>;
  id: string;
  tenant_id: string;
  message_id: string | null;
  recipient_id: string | null;
  seq: number;
  type: string;
  at: number;
  data: string;
  schema_version: Generated<number>;
}

export interface SuppressionsTable {
  id: string;
  /** '' for scope global. */
  tenant_id: string;
  /** 'global' | 'tenant' | 'identity' */
  scope: string;
  /** Identity scope: the sending domain, or '' for any. */
  domain: string;
  /** Identity scope: the stream, or '' for any. */
  stream: string;
  address: string;
  reason: string;
  source: string;
  created_at: number;
}

export interface SuppressionChangesTable {
  /** Write order; the history's cursor. */
  seq: Generated<number>;
  id: string;
  tenant_id: string;
  address: string;
  /** 'add' | 'repeat' | 'remove' | 'import' */
  action: string;
  /** An API key id, 'cli', 'system', 'unsubscribe' or an event id. */
  actor: string;
  reason: string | null;
  source: string | null;
  /** The entry before and after the change, JSON; null where it did not exist. */
  before: string | null;
  after: string | null;
  at: number;
}

export interface IdempotencyKeysTable {
  tenant_id: string;
  key: string;
  request_hash: string;
  status: string;
  response_status: number | null;
  response_body: string | null;
  created_at: number;
  expires_at: number;
}

export interface CapturedMessagesTable {
  id: string;
  tenant_id: string;
  message_id: string;
  recipient_id: string;
  envelope_from: string;
  envelope_to: string;
  captured_at: number;
}

export interface DkimKeysTable {
  id: string;
  tenant_id: string;
  domain_id: string;
  /** The signing domain (d=), the domain's name. */
  domain: string;
  selector: string;
  /** 'rsa-2048' | 'ed25519' */
  algorithm: string;
  /** Sealed with the master key (governance sealSecret); never plaintext. */
  private_key: string;
  /** Base64 for the DNS `p=` tag. */
  public_key: string;
  /** 'pending' | 'active' | 'retired' */
  status: string;
  created_at: number;
  activated_at: number | null;
  retired_at: number | null;
  /** 'all' or a stream name: what the selector signs for. */
  purpose: string;
  /** Last time the key's TXT record was seen in DNS with this public key. */
  verified_at: number | null;
}

export interface RateWindowsTable {
  key: string;
  window_start: number;
  count: number;
  expires_at: number;
}

/** Who runs a scheduled job now (migration 009). */
export interface JobLeasesTable {
  name: string;
  owner: string;
  expires_at: number;
}

/** Where a durable consumer of the spine stands (migration 013). */
export interface ConsumerCursorsTable {
  name: string;
  position: number;
  updated_at: number;
}

/** A tenant's webhook endpoint (migration 014). Filters are JSON arrays or NULL (everything). */
export interface WebhookEndpointsTable {
  id: string;
  tenant_id: string;
  url: string;
  description: string;
  event_types: string | null;
  streams: string | null;
  domains: string | null;
  batch_size: number;
  secret_sealed: string;
  previous_secret_sealed: string | null;
  previous_secret_expires_at: number | null;
  state: string;
  disabled_reason: string | null;
  disabled_at: number | null;
  created_at: number;
  updated_at: number;
}

/** One event owed to one endpoint: leased work (migration 014). */
export interface WebhookDeliveriesTable {
  id: string;
  endpoint_id: string;
  tenant_id: string;
  event_id: string;
  event_cursor: number;
  message_id: string | null;
  origin: string;
  state: string;
  attempts: number;
  next_attempt_at: number;
  first_failed_at: number | null;
  lease_owner: string | null;
  lease_expires_at: number | null;
  created_at: number;
  updated_at: number;
}

/** One POST tried (migration 014). `event_ids` is a JSON array (several when batched). */
export interface WebhookAttemptsTable {
  id: string;
  endpoint_id: string;
  event_ids: string;
  attempt: number;
  at: number;
  outcome: string;
  status: number | null;
  latency_ms: number;
  error: string | null;
  response_excerpt: string | null;
}

/** One audit run's snapshot (migration 007). records/facts/findings are JSON text. */
export interface DnsSnapshotsTable {
  id: string;
  tenant_id: string;
  domain: string;
  taken_at: number;
  resolver: string;
  records: string;
  facts: string;
  findings: string;
}

export interface DnsWatchTable {
  tenant_id: string;
  domain: string;
  created_at: number;
}

export interface PostureSettingsTable {
  tenant_id: string;
  /** JSON array of approved MX host patterns. */
  approved_mx: string;
  updated_at: number;
}

export interface FeedbackDocumentsTable {
  id: string;
  tenant_id: string | null;
  /** parseFeedback kind: 'dsn' | 'arf' | 'dmarc-aggregate' | 'dmarc-failure' | 'tls-rpt' | 'auto-reply' | 'unknown' */
  kind: string;
  /** 'smtp' | 'api' */
  source: string;
  rcpt: string | null;
  message_id: string | null;
  received_at: number;
  summary: string;
  raw_size: number;
  raw: Buffer | null;
}

export interface DmarcReportRecordsTable {
  id: string;
  document_id: string;
  tenant_id: string;
  domain_id: string;
  policy_domain: string;
  policy: string;
  org_name: string;
  report_id: string;
  row_index: number;
  /** Unix milliseconds. */
  date_begin: number | null;
  date_end: number | null;
  source_ip: string;
  count: number;
  disposition: string | null;
  dkim: string | null;
  spf: string | null;
  header_from: string | null;
  auth_results: string;
  authorized: number;
  authorized_reason: string;
}

export interface FeedbackReportClaimsTable {
  kind: string;
  scope: string;
  org_name: string;
  report_id: string | null;
  domain: string;
  digest: string;
  document_id: string;
  received_at: number;
}

export interface TlsReportsTable {
  id: string;
  document_id: string;
  tenant_id: string | null;
  org_name: string;
  report_id: string;
  policy_index: number;
  date_begin: number | null;
  date_end: number | null;
  policy_type: string;
  policy_domain: string;
  success_count: number;
  failure_count: number;
  failures: string;
}

export interface MtaStsPoliciesTable {
  domain: string;
  policy_id: string;
  policy_text: string;
  fetched_at: number;
  expires_at: number;
}

export interface TlsAttemptsTable {
  id: string;
  tenant_id: string;
  message_id: string;
  recipient_id: string;
  stream: string;
  /** The recipient domain: the policy domain of MTA-STS, TLS-RPT and statistics. */
  domain: string;
  at: number;
  /** delivered | deferred | bounced | failed */
  outcome: string;
  /** One id per SMTP connection (or per refused attempt): TLS-RPT counts sessions. */
  session_id: string;
  mx_host: string | null;
  ip: string | null;
  tls: number;
  verified: number;
  /** 'mta-sts' | 'dane' when the destination's policy was enforced on this attempt. */
  enforced_by: string | null;
  policy_source: string;
  /** opportunistic | required | verify-pkix | dane */
  policy_mode: string;
  tenant_policy: string;
  mta_sts_id: string | null;
  mta_sts_mode: string | null;
  dane: string | null;
  tls_version: string | null;
  cipher: string | null;
  cert_sha256: string | null;
  verification: string;
  /** RFC 8460 §4.4: sts | tlsa | no-policy-found */
  rpt_policy_type: string;
  /** JSON array of strings. */
  rpt_policy_string: string;
  /** JSON array of MX patterns (sts). */
  rpt_mx_patterns: string;
  /** RFC 8460 §4.3 result type; null for a successful session. */
  rpt_result: string | null;
  rpt_reason: string | null;
  /** Egress pool of the attempt (migration 022). */
  pool: string | null;
  /** Local address the connection was made from (migration 022). */
  source_address: string | null;
}

export interface TlsRptReportsTable {
  policy_domain: string;
  day: string;
  report_id: string;
  destinations: string;
  sent_at: number;
}

export interface Database
  extends EngagementTables,
    ReputationTables,
    EncryptionTables,
    ComplianceTables,
    RetentionTables,
    ClassificationTables {
  tenants: TenantsTable;
  api_keys: ApiKeysTable;
  domains: DomainsTable;
  messages: MessagesTable;
  message_bodies: MessageBodiesTable;
  recipients: RecipientsTable;
  events: EventsTable;
  suppressions: SuppressionsTable;
  suppression_changes: SuppressionChangesTable;
  idempotency_keys: IdempotencyKeysTable;
  captured_messages: CapturedMessagesTable;
  dkim_keys: DkimKeysTable;
  rate_windows: RateWindowsTable;
  job_leases: JobLeasesTable;
  consumer_cursors: ConsumerCursorsTable;
  webhook_endpoints: WebhookEndpointsTable;
  webhook_deliveries: WebhookDeliveriesTable;
  webhook_attempts: WebhookAttemptsTable;
  dns_snapshots: DnsSnapshotsTable;
  dns_watch: DnsWatchTable;
  posture_settings: PostureSettingsTable;
  feedback_documents: FeedbackDocumentsTable;
  dmarc_report_records: DmarcReportRecordsTable;
  tls_reports: TlsReportsTable;
  feedback_report_claims: FeedbackReportClaimsTable;
  mta_sts_policies: MtaStsPoliciesTable;
  tls_attempts: TlsAttemptsTable;
  tlsrpt_reports: TlsRptReportsTable;
  templates: TemplatesTable;
  template_versions: TemplateVersionsTable;
  preflight_policies: PreflightPoliciesTable;
  users: UsersTable;
  user_sessions: UserSessionsTable;
  roles: RolesTable;
  access_throttle: AccessThrottleTable;
  audit_entries: AuditEntriesTable;
  audit_chain_heads: AuditChainHeadsTable;
  audit_checkpoints: AuditCheckpointsTable;
  audit_signing_keys: AuditSigningKeysTable;
  sso_providers: SsoProvidersTable;
  sso_requests: SsoRequestsTable;
  sso_assertions: SsoAssertionsTable;
}

/** Migration 017: a tenant's templates; `draft` is the JSON of the content being authored. */
export interface TemplatesTable {
  id: string;
  tenant_id: string;
  name: string;
  stream: string | null;
  draft: string;
  current_version: number | null;
  created_at: number;
  updated_at: number;
}

/** Migration 017: published template versions, inserted once and never updated. */
export interface TemplateVersionsTable {
  template_id: string;
  version: number;
  content: string;
  published_at: number;
}

/** Migration 017: the preflight warning codes (JSON array) that refuse a tenant's sends. */
export interface PreflightPoliciesTable {
  tenant_id: string;
  refuse: string;
  updated_at: number;
}

export type Count = ColumnType<number | string | bigint, never, never>;

/** Migration 020: people of a tenant (tenant_id NULL: a platform operator). */
export interface UsersTable {
  id: string;
  tenant_id: string | null;
  email: string;
  name: string;
  role: string;
  password_hash: string | null;
  totp_secret: string | null;
  totp_enabled: Generated<number>;
  external_issuer: string | null;
  external_subject: string | null;
  created_at: number;
  disabled_at: number | null;
  last_login_at: number | null;
}

/** Migration 020: signed-in browsers; only hashes of the cookie and CSRF tokens are kept. */
export interface UserSessionsTable {
  token_hash: string;
  user_id: string;
  tenant_id: string;
  csrf_hash: string;
  created_at: number;
  expires_at: number;
  revoked_at: number | null;
  ip: string | null;
  user_agent: string | null;
}

/** Migration 020: a tenant's custom roles. */
export interface RolesTable {
  tenant_id: string;
  name: string;
  permissions: string;
  description: string;
  updated_at: number;
}

/** Migration 020: sign-in and key-guessing failures per subject, shared by every node. */
export interface AccessThrottleTable {
  subject: string;
  failures: number;
  first_failure_at: number;
  blocked_until: number;
}

/** Migration 019: the append-only audit log, one hash chain per tenant (src/audit). */
export interface AuditEntriesTable {
  id: string;
  chain: string;
  seq: number;
  tenant_id: string | null;
  at: number;
  actor_kind: string;
  actor_id: string;
  actor_tenant_id: string | null;
  actor_ip: string | null;
  actor_user_agent: string | null;
  actor_key_id: string | null;
  action: string;
  resource_type: string;
  resource_id: string | null;
  before_json: string | null;
  after_json: string | null;
  reason: string | null;
  prev_hash: string;
  hash: string;
}

/** Migration 019: where each audit chain ends; its row lock serialises appends to the chain. */
export interface AuditChainHeadsTable {
  chain: string;
  seq: number;
  hash: string;
  updated_at: number;
}

/** Migration 019: signed (chain, seq, hash) checkpoints. */
export interface AuditCheckpointsTable {
  chain: string;
  seq: number;
  hash: string;
  key_id: string;
  signature: string;
  at: number;
}

/** Migration 019: Ed25519 keys that sign checkpoints; the private half sealed with the master key. */
export interface AuditSigningKeysTable {
  id: string;
  public_key: string;
  private_sealed: string;
  created_at: number;
}

/** Migration 026: a tenant's identity provider per protocol; `secret` sealed with the master key. */
export interface SsoProvidersTable {
  tenant_id: string;
  protocol: string;
  settings: string;
  secret: string | null;
  updated_at: number;
}

/** Migration 026: sign-ins started and not yet finished (OIDC state, SAML request ID). */
export interface SsoRequestsTable {
  id: string;
  tenant_id: string;
  protocol: string;
  nonce: string | null;
  code_verifier: string | null;
  browser_hash: string | null;
  created_at: number;
  expires_at: number;
}

/** Migration 026: SAML assertion IDs already used, until their NotOnOrAfter (replay protection). */
export interface SsoAssertionsTable {
  id: string;
  tenant_id: string;
  expires_at: number;
}
