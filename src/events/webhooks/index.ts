import type { AuditRecorder } from '../../audit/index.js';
import type { Clock } from '../../core/index.js';
import { createWorker, type Worker } from '../../queue/index.js';
import type { ClaimedWebhookDelivery, Store } from '../../store/index.js';
import { type Consumer, createConsumer } from '../consumer.js';
import { createFanOut } from './dispatcher.js';
import { createWebhookEndpoints, type WebhookEndpoints } from './endpoints.js';
import { CONNECTIONS_PER_ORIGIN, createPoster, type Poster } from './poster.js';
import { createThreadPoster } from './poster-thread.js';
import { createSender, type SecretBox } from './sender.js';

/**
 * Webhooks, assembled: the management service (endpoints), the dispatcher (a spine consumer fanning
 * events out to delivery rows, one node at a time) and the sender (the queue's worker loop POSTing
 * deliveries, on every node). docs/webhooks.md.
 */
export interface WebhooksOptions {
  allowPrivateTargets: boolean;
  retryHours: number;
  timeoutMs: number;
  concurrency: number;
  pollMs: number;
  leaseSeconds: number;
  rotationGraceHours: number;
  maxBatchSize: number;
  retentionDays: number;
  /** POST from a worker thread (poster-thread.ts) rather than the main thread; default true. */
  senderThread?: boolean;
  /** This node's data region (`residency.region`): events of tenants pinned elsewhere are not POSTed here. */
  region?: string;
}

export interface WebhooksDeps {
  store: Store;
  clock: Clock;
  secrets: SecretBox;
  owner: string;
  options: WebhooksOptions;
  /**
   * Replaces the HTTP client (tests count or fail POSTs); default undici with the SSRF guard, in a
   * worker thread unless `options.senderThread` is false.
   */
  poster?: Poster;
  log?: { warn(obj: object, msg: string): void; error(obj: object, msg: string): void };
  /**
   * True while another writer should have the store first (platform: delivery has work in flight).
   * On SQLite every commit is an fsync on the one writer; meanwhile webhooks commit at most every
   * `YIELD_MS` (claims with their settles, and dispatch), and catch up in larger transactions.
   */
  yieldTo?: () => boolean;
  /** Backoff jitter source (tests). */
  random?: () => number;
  /** Endpoint changes are audited with the change (docs/governance.md). */
  audit?: AuditRecorder;
}

export interface Webhooks {
  endpoints: WebhookEndpoints;
  dispatcher: Consumer;
  worker: Worker;
  /** Starts dispatching and sending on this node. */
  start(): void;
  stop(): Promise<void>;
}

/** How often webhooks commit at most while another writer has priority (`yieldTo`). */
const YIELD_MS = 250;

export function createWebhooks(deps: WebhooksDeps): Webhooks {
  const o = deps.options;
  const posterOptions = { timeoutMs: o.timeoutMs, allowPrivateTargets: o.allowPrivateTargets };
  const poster =
    deps.poster ??
    (o.senderThread === false
      ? createPoster(posterOptions)
      : createThreadPoster({ ...posterOptions, ...(deps.log ? { log: deps.log } : {}) }));
  const sender = createSender({
    store: deps.store,
    clock: deps.clock,
    poster,
    secrets: deps.secrets,
    owner: deps.owner,
    postsPerOrigin: CONNECTIONS_PER_ORIGIN,
    // Past the longest pause between claims (YIELD_MS): settles ride on the next claim's commit.
    settleLingerMs: 2 * YIELD_MS,
    ...(o.region !== undefined ? { region: o.region } : {}),
    retry: { baseMs: 5_000, capMs: 3_600_000, horizonMs: o.retryHours * 3_600_000 },
    ...(deps.log ? { log: deps.log } : {}),
    ...(deps.random ? { random: deps.random } : {}),
  });
  const worker = createWorker<ClaimedWebhookDelivery>({
    name: 'webhooks',
    // Claims carry the settles of what finished since the last one: one commit per cycle, not two.
    work: {
      claimDue: sender.claimDue,
      renewLeases: (owner, ids, expiresAt) => deps.store.webhookDeliveries.renewLeases(owner, ids, expiresAt),
      releaseOwned: (owner, now) => deps.store.webhookDeliveries.releaseOwned(owner, now),
    },
    settlesWaiting: sender.settlesWaiting,
    groupBy: sender.groupKey,
    prepare: sender.prepare,
    run: sender.run,
    clock: deps.clock,
    owner: deps.owner,
    concurrency: o.concurrency,
    // Half the slots: each claim is a transaction, so the fewer, larger windows the fewer commits per
    // event (a claim with settles waiting goes at once: its commit is due anyway).
    minClaim: Math.floor(o.concurrency / 2),
    smallClaimAfterMs: o.pollMs,
    // At most 20 claims a second (each a commit), 4 while delivery works: webhooks must not starve
    // delivery of the writer.
    claimIntervalMs: () => (deps.yieldTo?.() ? YIELD_MS : Math.min(o.pollMs, 50)),
    leaseMs: o.leaseSeconds * 1000,
    pollMs: o.pollMs,
    beforeRelease: () => sender.drain(),
    ...(deps.log ? { log: deps.log } : {}),
  });
  const fanOut = createFanOut({
    store: deps.store,
    clock: deps.clock,
    onQueued: (events) => {
      sender.remember(events);
      worker.poke();
    },
  });
  const dispatcher = createConsumer({
    name: 'webhooks',
    store: deps.store,
    clock: deps.clock,
    owner: deps.owner,
    handle: fanOut.handle,
    // Each batch is one commit (its delivery rows with the cursor advance): large batches, few commits.
    batchSize: 2000,
    // From the first event: the fan-out skips what happened before each endpoint existed.
    startAt: 'beginning',
    ...(deps.yieldTo ? { minIntervalMs: () => (deps.yieldTo?.() ? YIELD_MS : 0) } : {}),
    pollMs: o.pollMs,
    leaseMs: Math.max(o.leaseSeconds * 1000, 10 * o.pollMs),
    ...(deps.log ? { log: deps.log } : {}),
  });
  const endpoints = createWebhookEndpoints({
    store: deps.store,
    clock: deps.clock,
    secrets: deps.secrets,
    poster,
    sender,
    fanOut,
    allowPrivateTargets: o.allowPrivateTargets,
    rotationGraceMs: o.rotationGraceHours * 3_600_000,
    maxBatchSize: o.maxBatchSize,
    retentionDays: o.retentionDays,
    onQueued: () => worker.poke(),
    ...(deps.audit ? { audit: deps.audit } : {}),
  });
  let poster_closed = false;
  return {
    endpoints,
    dispatcher,
    worker,
    start() {
      dispatcher.start();
      worker.start();
    },
    async stop() {
      await dispatcher.stop();
      await worker.stop();
      if (!poster_closed && !deps.poster) {
        poster_closed = true;
        await poster.close();
      }
    },
  };
}

export type { EndpointInput, EndpointUpdate, ReplayRequest, WebhookEndpoints } from './endpoints.js';
export { batchId, type SecretBox } from './sender.js';
export { SECRET_PREFIX } from './signer.js';
