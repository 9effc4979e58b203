import { createHash } from 'node:crypto';
import { type Clock, newId, type SpineEvent } from '../../core/index.js';
import { backoffDelayMs, type ClaimRequest, createSettleQueue } from '../../queue/index.js';
import type { ClaimedWebhookDelivery, Repositories, Store, WebhookAttemptRow, WebhookEndpointRow } from '../../store/index.js';
import { webhookEventJson } from './payload.js';
import type { Poster, PostResult } from './poster.js';
import { secretKey, signatureHeaders } from './signer.js';

/**
 * Sends one endpoint's claimed deliveries (the worker groups them by endpoint): in POSTs of
 * `batch_size` events, signed with the endpoint's secret (and the previous one during its grace
 * period), and settles each POST's deliveries: 2xx → done, anything else → retry with exponential
 * backoff and jitter. A delivery still failing `retryHours` after its first failure kills the
 * endpoint: it is disabled, its open deliveries are given up, and a `webhook.disabled` event says so.
 *
 * The claim never hands out two events of one message together (the later waits for the earlier to
 * be done), so the POSTs of a group may go at once without breaking per-message order.
 */
export interface SecretBox {
  seal(plain: string, aad: string): string;
  open(sealed: string, aad: string): string;
}

export interface SenderDeps {
  store: Store;
  clock: Clock;
  poster: Poster;
  secrets: SecretBox;
  owner: string;
  retry: { baseMs: number; capMs: number; horizonMs: number };
  log?: { warn(obj: object, msg: string): void; error(obj: object, msg: string): void };
  random?: () => number;
  /** This node's data region: events of tenants pinned elsewhere are POSTed by a node of theirs (docs/residency.md). */
  region?: string;
  /** How long settles wait for the worker's next claim before they commit alone (queue/settle-queue.ts). */
  settleLingerMs: number;
  /**
   * POSTs in flight to one origin at a time: the HTTP client's connections per origin. More would
   * wait in the client's own queue, and the POST's deadline would count that wait.
   */
  postsPerOrigin: number;
}

interface SettleItem {
  ids: string[];
  outcome: { kind: 'done' } | { kind: 'retry'; at: number } | { kind: 'dead' };
  attempt: WebhookAttemptRow;
}

export const secretAad = (endpointId: string) => `webhook_endpoints:${endpointId}`;

/** The HMAC keys that sign for an endpoint now: the current secret, and the previous one while its grace lasts. */
export function signingKeys(e: WebhookEndpointRow, now: number, key: (sealed: string) => Buffer): Buffer[] {
  const keys = [key(e.secretSealed)];
  if (e.previousSecretSealed && e.previousSecretExpiresAt !== null && now < e.previousSecretExpiresAt) {
    keys.push(key(e.previousSecretSealed));
  }
  return keys;
}

/** A batch's webhook-id: stable for the same events, so a retried batch is recognisable. */
export function batchId(eventIds: readonly string[]): string {
  return `batch_${createHash('sha256').update(eventIds.join(',')).digest('hex').slice(0, 26)}`;
}

/** How long an endpoint row is reused before it is read again (a PATCH, rotation or disable applies within it). */
const ENDPOINT_TTL_MS = 1000;
/** How long an event handed over by the fan-out is sent without being read again (see `windowEvents`). */
const EVENT_TTL_MS = 5000;
/** Events kept for the next windows at most, whatever the backlog. */
const EVENT_CACHE_MAX = 10_000;

/**
 * At most `limit` calls at once per key (an origin), the rest waiting in arrival order. The claim
 * window may hold many more deliveries for one origin than it has connections: they wait here, with
 * their leases renewed by the worker, and each POST's deadline starts when it gets a connection, so a
 * slow receiver costs time, not failed attempts.
 */
export function createOriginGate(limit: number) {
  const lanes = new Map<string, { active: number; waiting: (() => void)[] }>();
  return {
    async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
      let lane = lanes.get(key);
      if (!lane) {
        lane = { active: 0, waiting: [] };
        lanes.set(key, lane);
      }
      if (lane.active >= limit) await new Promise<void>((go) => lane.waiting.push(go));
      else lane.active++;
      try {
        return await fn();
      } finally {
        // The slot passes straight to the next in line (active stays counted), or is freed.
        const next = lane.waiting.shift();
        if (next) next();
        else if (--lane.active === 0) lanes.delete(key);
      }
    },
    /** Calls waiting for a slot, all keys (tests). */
    waiting: () => [...lanes.values()].reduce((n, l) => n + l.waiting.length, 0),
  };
}

/** `scheme://host:port` of an endpoint URL: what the HTTP client pools connections by. */
function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}

export function createSender(deps: SenderDeps) {
  const { store, clock } = deps;
  /**
   * Events by id for the deliveries about to go. The fan-out on this node hands over the events it
   * just queued (`remember`), so a window usually reads none again; what is missing (queued by another
   * node, a replay, a retry, an entry too old) is read in one query per window (`prepare`). An entry
   * serves for `EVENT_TTL_MS` after it was read (a payload read from the store may wait as long at the
   * origin gate), so a change to an event, an erasure, reaches its POSTs within seconds either way; at
   * most `EVENT_CACHE_MAX` are kept, oldest dropped first, whatever the backlog. Entries leave when
   * their group has run.
   */
  const windowEvents = new Map<string, { event: SpineEvent; at: number }>();
  const fresh = (id: string) => {
    const hit = windowEvents.get(id);
    if (!hit) return undefined;
    const age = clock.now() - hit.at;
    return age >= 0 && age < EVENT_TTL_MS ? hit.event : undefined;
  };
  const endpoints = new Map<string, { row: WebhookEndpointRow | undefined; at: number }>();
  async function endpointById(id: string): Promise<WebhookEndpointRow | undefined> {
    const hit = endpoints.get(id);
    if (hit && performance.now() - hit.at < ENDPOINT_TTL_MS) return hit.row;
    const row = await store.webhookEndpoints.get(id);
    if (endpoints.size > 10_000) endpoints.clear();
    endpoints.set(id, { row, at: performance.now() });
    return row;
  }
  const gate = createOriginGate(deps.postsPerOrigin);
  /** Origins by endpoint URL: a URL is parsed once, not at every POST. */
  const originByUrl = new Map<string, string>();
  const origins = (url: string) => {
    let o = originByUrl.get(url);
    if (o === undefined) {
      o = originOf(url);
      if (originByUrl.size > 10_000) originByUrl.clear();
      originByUrl.set(url, o);
    }
    return o;
  };
  /** HMAC keys by sealed secret: opening (HKDF + AES-GCM) and decoding per POST showed in profiles. */
  const opened = new Map<string, Buffer>();
  const openFor = (endpointId: string) => (sealed: string) => {
    let key = opened.get(sealed);
    if (key === undefined) {
      key = secretKey(deps.secrets.open(sealed, secretAad(endpointId)));
      if (opened.size > 10_000) opened.clear();
      opened.set(sealed, key);
    }
    return key;
  };

  /**
   * Settles POSTs in groups, in the transaction of the worker's next claim (queue/settle-queue.ts):
   * one UPDATE for every delivery that is done (and one for every dead one) whatever the number of
   * POSTs, one per retry time, and one INSERT of the attempts, then the claim: one commit per cycle.
   */
  const settles = createSettleQueue<SettleItem, Repositories>({
    transaction: (fn) => store.transaction(fn),
    // Longer than the worker's longest pause between claims, or settles would commit on their own
    // just before each claim (two commits per cycle); this only catches an idle or stopping loop.
    lingerMs: deps.settleLingerMs,
    apply: async (tx, items) => {
      const now = clock.now();
      const done: string[] = [];
      const dead: string[] = [];
      for (const it of items) {
        if (it.outcome.kind === 'done') done.push(...it.ids);
        else if (it.outcome.kind === 'dead') dead.push(...it.ids);
        else await tx.webhookDeliveries.settle({ ids: it.ids, owner: deps.owner, now, outcome: it.outcome });
      }
      if (done.length) await tx.webhookDeliveries.settle({ ids: done, owner: deps.owner, now, outcome: { kind: 'done' } });
      if (dead.length) await tx.webhookDeliveries.settle({ ids: dead, owner: deps.owner, now, outcome: { kind: 'dead' } });
      await tx.webhookDeliveries.insertAttempts(items.map((i) => i.attempt));
    },
    ...(deps.log ? { log: deps.log } : {}),
  });

  async function disable(endpoint: WebhookEndpointRow, reason: string): Promise<void> {
    await store.transaction(async (tx) => {
      const now = clock.now();
      if (!(await tx.webhookEndpoints.disable(endpoint.id, reason, now))) return;
      await tx.webhookDeliveries.killOpen(endpoint.id, now);
      await tx.events.append(
        [
          {
            type: 'webhook.disabled',
            tenantId: endpoint.tenantId,
            data: { webhook_id: endpoint.id, url: endpoint.url, reason, disabled_at: new Date(now).toISOString() },
          },
        ],
        now,
      );
    });
    deps.log?.warn({ webhook: endpoint.id, reason }, 'webhook endpoint disabled');
  }

  async function sendChunk(endpoint: WebhookEndpointRow, keys: Buffer[], chunk: ClaimedWebhookDelivery[], events: Map<string, SpineEvent>) {
    const present = chunk.filter((d) => events.has(d.eventId));
    const eventIds = present.map((d) => d.eventId);
    let result: PostResult;
    if (!present.length) {
      // The events are gone (retention purged them): nothing left to send.
      result = { ok: true, status: null, latencyMs: 0, excerpt: null, error: 'event no longer retained' };
    } else {
      const payloads = present.map((d) => webhookEventJson(events.get(d.eventId)!));
      const batched = endpoint.batchSize > 1;
      const body = JSON.stringify(batched ? payloads : payloads[0]);
      const id = batched ? batchId(eventIds) : eventIds[0]!;
      result = await gate.run(origins(endpoint.url), () => {
        // Signed when it goes: the timestamp is the POST's, not when it started waiting.
        const headers = signatureHeaders(keys, id, Math.floor(clock.now() / 1000), body);
        return deps.poster.post(endpoint.url, headers, body);
      });
    }
    const now = clock.now();
    const attemptNo = Math.max(...chunk.map((d) => d.attempts));
    const attempt: WebhookAttemptRow = {
      id: newId('wha', now),
      endpointId: endpoint.id,
      eventIds: eventIds.length ? eventIds : chunk.map((d) => d.eventId),
      attempt: attemptNo,
      at: now,
      outcome: result.ok ? 'succeeded' : 'failed',
      status: result.status,
      latencyMs: result.latencyMs,
      error: result.error,
      responseExcerpt: result.excerpt,
    };
    const ids = chunk.map((d) => d.id);
    if (result.ok) {
      settles.add({ ids, outcome: { kind: 'done' }, attempt });
      return;
    }
    const firstFailed = Math.min(...chunk.map((d) => d.firstFailedAt ?? now));
    if (now - firstFailed >= deps.retry.horizonMs) {
      // Disabling kills the endpoint's open deliveries (this one too) in its own transaction.
      settles.add({ ids, outcome: { kind: 'dead' }, attempt });
      const hours = Math.round(deps.retry.horizonMs / 360_000) / 10;
      await disable(endpoint, `failing for ${hours} h; last: ${result.error ?? `HTTP ${result.status}`}`);
      return;
    }
    const at = now + backoffDelayMs(attemptNo, deps.retry, deps.random);
    settles.add({ ids, outcome: { kind: 'retry', at }, attempt });
  }

  return {
    /** Drops a cached endpoint row (this node changed it: the next POST reads it again). */
    forget(endpointId: string): void {
      endpoints.delete(endpointId);
    },
    /** Events the fan-out on this node just queued deliveries for: the window that claims them need not read them. */
    remember(events: readonly SpineEvent[]): void {
      const at = clock.now();
      for (const e of events) {
        // Re-inserted, not updated: the map's order is the age order the sweep below relies on.
        windowEvents.delete(e.id);
        windowEvents.set(e.id, { event: e, at });
      }
      for (const [id, entry] of windowEvents) {
        if (windowEvents.size <= EVENT_CACHE_MAX && at - entry.at < EVENT_TTL_MS && at >= entry.at) break;
        windowEvents.delete(id);
      }
    },
    /** The worker's prepare: one read of what the window's events and endpoints lack. */
    async prepare(claimed: ClaimedWebhookDelivery[]): Promise<void> {
      const missing = claimed.filter((d) => fresh(d.eventId) === undefined).map((d) => d.eventId);
      const at = clock.now();
      for (const e of await store.webhookDeliveries.events(missing)) windowEvents.set(e.id, { event: e, at });
      for (const id of new Set(claimed.map((d) => d.endpointId))) await endpointById(id);
    },
    /**
     * The worker's grouping: an endpoint's deliveries go together when it batches (one POST for
     * several), else each alone, so one slow POST never holds another's slot.
     */
    groupKey(d: ClaimedWebhookDelivery): string {
      const e = endpoints.get(d.endpointId)?.row;
      return e && e.batchSize > 1 ? d.endpointId : d.id;
    },
    /** The worker's run for one group of claimed deliveries (one endpoint). */
    async run(group: ClaimedWebhookDelivery[]): Promise<void> {
      const ep = await endpointById(group[0]!.endpointId);
      const events = new Map<string, SpineEvent>();
      for (const d of group) {
        const e = fresh(d.eventId);
        if (e) events.set(d.eventId, e);
        windowEvents.delete(d.eventId);
      }
      const absent = group.filter((d) => !events.has(d.eventId)).map((d) => d.eventId);
      if (absent.length) for (const e of await store.webhookDeliveries.events(absent)) events.set(e.id, e);
      if (ep?.state !== 'enabled') {
        await store.webhookDeliveries.settle({
          ids: group.map((d) => d.id),
          owner: deps.owner,
          now: clock.now(),
          outcome: { kind: 'dead' },
        });
        return;
      }
      const endpoint = ep;
      const keys = signingKeys(endpoint, clock.now(), openFor(endpoint.id));
      // Oldest first within a POST, so a batch reads in spine order.
      const sorted = [...group].sort((a, b) => a.eventCursor - b.eventCursor);
      const size = Math.max(1, endpoint.batchSize);
      const chunks: ClaimedWebhookDelivery[][] = [];
      for (let i = 0; i < sorted.length; i += size) chunks.push(sorted.slice(i, i + size));
      const results = await Promise.allSettled(chunks.map((c) => sendChunk(endpoint, keys, c, events)));
      for (const r of results)
        if (r.status === 'rejected')
          deps.log?.error({ err: r.reason, webhook: endpoint.id }, 'settling a webhook attempt failed; the lease will expire');
    },
    /** The worker's claim: the settles queued since the last one commit in its transaction. */
    claimDue: (o: ClaimRequest) => settles.claimWith((tx) => tx.webhookDeliveries.claimDue({ ...o, region: deps.region ?? '' })),
    settlesWaiting: () => settles.waiting(),
    drain: () => settles.drain(),
    signingKeys: (e: WebhookEndpointRow) => signingKeys(e, clock.now(), openFor(e.id)),
  };
}

export type Sender = ReturnType<typeof createSender>;
