import type { Accept, MessageChanges } from '../accept/index.js';
import type { Access, Caller } from '../access/index.js';
import type { Actor, AuditService } from '../audit/index.js';
import type { Classification } from '../classification/index.js';
import type { CredentialCompromise, Incidents, RecordsOfProcessing, Register } from '../compliance/index.js';
import type { Engagement, Preflight, Templates } from '../content/index.js';
import type { ByteBudget, Clock } from '../core/index.js';
import type { DeliveryControl, TlsStatsReport } from '../delivery/index.js';
import type { Spine, WebhookEndpoints } from '../events/index.js';
import type { FeedbackIngest, Suppressions, Unsubscribe } from '../feedback/index.js';
import type { createOverview, createProviderHealth, Slo } from '../health/index.js';
import type { Domains } from '../identity/index.js';
import type { PostureMonitor, ReportDataProtection } from '../posture/index.js';
import type { LedgerReader } from '../reputation/index.js';
import type { Retention } from '../retention/index.js';
import type { SelfAssessment } from '../self-assessment/index.js';
import type { Store } from '../store/index.js';
import type { Tenants } from '../tenants/index.js';

/** Who responds to a credential compromise: the audit actor, and the caller the users service holds to its owner rule. */
export interface Responder {
  actor: Actor;
  caller: Caller;
}

/** What the HTTP edge may call. It never reaches the store except through these services. */
export interface ApiServices {
  accept: Accept;
  /** Cancel and relabel messages after sending (src/accept/message-changes.ts). */
  messageChanges: MessageChanges;
  tenants: Tenants;
  /** Users, roles, sessions and the key throttle (src/access). */
  access: Pick<Access, 'users' | 'sessions' | 'keyThrottle' | 'sso'>;
  /**
   * A failed authentication from `address`: an unknown or throttled API key, a refused password
   * sign-in. The compliance anomaly detector counts them in memory (auth-failure-burst); it must not
   * throw or block. Absent: not counted.
   */
  authFailed?: (f: { via: 'api-key' | 'sign-in'; address: string }) => void;
  /** Signs the session cookie (derived from the master key); Secure flag policy (access.secureCookies). */
  cookies: { secret: string; secure: 'auto' | 'always' | 'never' };
  domains: Domains;
  spine: Spine;
  /** DNS posture audits, watch list, approved MX, history (src/posture). */
  posture: PostureMonitor;
  /** Feedback ingestion (POST /v1/feedback) and its read side (DMARC summary). */
  feedback: FeedbackIngest;
  suppressions: Suppressions;
  /** The audit log: reads for GET /v1/audit, and entries for reads of message content. */
  audit: AuditService;
  unsubscribe: Pick<Unsubscribe, 'verify' | 'unsubscribe'>;
  /** Webhook endpoints: management, test, attempts, replay (src/events/webhooks). */
  webhooks: WebhookEndpoints;
  clock: Clock;
  /** Idempotency keys are the API's own concern; it keeps them in the store through this narrow slice. */
  idempotencyStore: Pick<Store, 'idempotency'>;
  /** What this node depends on and cannot reach now (`store`); empty when all is well. */
  ready: () => Promise<{ unreachable: string[] }>;
  /** Prometheus exposition of this node's metrics. */
  metrics: { contentType: string; text(): Promise<string> };
  limits: {
    syncWaitMs: number;
    batchMax: number;
    idempotencyHours: number;
    idempotencyTakeoverSeconds: number;
    maxMessageBytes: number;
    maxFeedbackBytes: number;
    /** Largest CSV a list import reads (lists.maxImportBytes). */
    maxImportBytes?: number;
  };
  /** The node's budget of message bytes in flight, shared with the SMTP listeners (none: unbounded). */
  bodyBudget?: ByteBudget;
  /** Templates (/v1/templates) and the preflight (dry run, policy): src/content. */
  templates: Templates;
  preflight: Preflight;
  /** The DKIM-Signature fields a message would get, signature values left out (the dry run). */
  dkimPreview?: (
    raw: Buffer,
    fromDomain: string,
  ) => Promise<{ headers: string; signatures: { domain: string; selector: string; algorithm: string }[] }>;
  /**
   * The dashboard's read side: SLOs, overview, provider health, and the request count SLOs measure.
   * Every node serves them (createPlatform builds them all), so GET /v1/overview, /v1/providers and
   * /v1/slo never answer "not available here".
   */
  health: {
    slo: Slo;
    overview: ReturnType<typeof createOverview>;
    providers: ReturnType<typeof createProviderHealth>;
    countRequest: (status: number) => void;
  };
  /** The dashboard bundle served at / (docs/dashboard.md); dir '' is dist/web of this installation. */
  webApp?: { enabled: boolean; dir: string };
  /** TLS statistics of a tenant's deliveries (transport security). */
  tlsStats?: (q: { tenantId: string; from: number; to: number; domain?: string }) => Promise<TlsStatsReport>;
  /** Tracking, experiments and contact lists (src/content). */
  engagement?: Engagement;
  /** The reputation ledger's read side (GET /v1/reputation; src/reputation). */
  reputation: LedgerReader;
  /** Pacing and breakers per pool × site, and the operator's overrides (GET/POST /v1/delivery/health). */
  delivery: DeliveryControl;
  /** Retention policies, legal holds and erasure (src/retention; docs/retention.md). */
  retention: Retention;
  /** Classification and DLP rules per tenant (src/classification). */
  classification?: Pick<Classification, 'getRules' | 'setRules'>;
  /** The platform's self-assessment history (src/self-assessment); a thunk: it is built after the API. */
  selfAssessment?: () => Pick<SelfAssessment, 'history'>;
  /** A tenant's records of processing over [from, to) (src/compliance; docs/compliance.md). */
  recordsOfProcessing?: (q: { tenantId: string; from: number; to: number }) => Promise<RecordsOfProcessing>;
  /**
   * This node's data region (`residency.region`; '' or absent: none). A tenant pinned to another
   * region is refused every route but its settings and sign-in (403 RESIDENCY_MISMATCH; docs/residency.md).
   */
  region?: string;
  /** Records a request refused for residency in the audit log (throttled per tenant; platform.ts wires it, shared with SMTP). */
  residencyRefused?: (actor: Actor, tenantRegion: string, where: { method: string; route: string | null }) => Promise<void>;
  /** A tenant's encryption, residency, holds and purge runs, for the evidence report (src/compliance/data-protection.ts). */
  dataProtection?: (tenantId: string) => Promise<ReportDataProtection>;
  /** Compliance operations (src/compliance): the third-party register, incidents and trace bundles, credential compromise. */
  compliance?: {
    register: Pick<Register, 'page' | 'get' | 'create' | 'update' | 'remove' | 'seed'>;
    incidents: Pick<Incidents, 'page' | 'get' | 'open' | 'note' | 'close' | 'reminders' | 'traceBundle'>;
    credentials: CredentialCompromise<Responder>;
  };
}
