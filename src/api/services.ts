import type { Accept } from '../accept/index.js';
import type { ByteBudget, Clock } from '../core/index.js';
import type { TlsStatsReport } from '../delivery/index.js';
import type { Spine, WebhookEndpoints } from '../events/index.js';
import type { FeedbackIngest, Suppressions, Unsubscribe } from '../feedback/index.js';
import type { Domains } from '../identity/index.js';
import type { PostureMonitor } from '../posture/index.js';
import type { Store } from '../store/index.js';
import type { Tenants } from '../tenants/index.js';

/** What the HTTP edge may call. It never reaches the store except through these services. */
export interface ApiServices {
  accept: Accept;
  tenants: Tenants;
  domains: Domains;
  spine: Spine;
  /** DNS posture audits, watch list, approved MX, history (src/posture). */
  posture: PostureMonitor;
  /** Feedback ingestion (POST /v1/feedback) and its read side (DMARC summary). */
  feedback: FeedbackIngest;
  suppressions: Suppressions;
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
  };
  /** The node's budget of message bytes in flight, shared with the SMTP listeners (none: unbounded). */
  bodyBudget?: ByteBudget;
  /** TLS statistics of a tenant's deliveries (transport security). */
  tlsStats?: (q: { tenantId: string; from: number; to: number; domain?: string }) => Promise<TlsStatsReport>;
}
