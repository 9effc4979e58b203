import { type Kysely, sql } from 'kysely';
import { idFloor, type SpineEvent } from '../../core/index.js';
import type { ContentCipher } from '../content-cipher.js';
import type { DialectName } from '../dialect.js';
import type { Database, WebhookAttemptsTable, WebhookDeliveriesTable } from '../schema.js';
import { readEvents } from './events.js';
import { insertRows } from './insert-rows.js';
import { textList } from './param-list.js';

/**
 * Webhook deliveries as leased work (queue/leased-work.ts's contract), the attempts log, and the
 * reads the dispatcher needs (events by id, the stream and sender domain of messages).
 *
 * States: queued → done | retry (→ done …) | dead. A delivery in flight is an open one (queued or
 * retry) under a lease: `lease_owner` and `lease_expires_at` set, its state unchanged, so a claim
 * writes no indexed column (migration 033: on PostgreSQL a HOT update, on SQLite no index page).
 * A lapsed lease makes the delivery due again. Ordering per message: a delivery is due only when no
 * earlier event (lower spine cursor) of the same message to the same endpoint is still open, leased
 * or not, so a message's events reach an endpoint in order while other messages go on. Events
 * without a message are not ordered.
 */
export type WebhookDeliveryState = 'queued' | 'retry' | 'done' | 'dead';

export interface WebhookDeliveryRow {
  id: string;
  endpointId: string;
  tenantId: string;
  eventId: string;
  eventCursor: number;
  messageId: string | null;
  origin: string;
  state: WebhookDeliveryState;
  attempts: number;
  nextAttemptAt: number;
  firstFailedAt: number | null;
  /** The node holding it under a lease (in flight there, or lapsed and not yet claimed again). */
  leaseOwner: string | null;
  createdAt: number;
}

export interface NewWebhookDelivery {
  id: string;
  endpointId: string;
  tenantId: string;
  eventId: string;
  eventCursor: number;
  messageId: string | null;
  origin: string;
}

export interface WebhookAttemptRow {
  id: string;
  endpointId: string;
  eventIds: string[];
  attempt: number;
  at: number;
  outcome: 'succeeded' | 'failed';
  status: number | null;
  latencyMs: number;
  error: string | null;
  responseExcerpt: string | null;
}

const toDelivery = (r: WebhookDeliveriesTable): WebhookDeliveryRow => ({
  id: r.id,
  endpointId: r.endpoint_id,
  tenantId: r.tenant_id,
  eventId: r.event_id,
  eventCursor: Number(r.event_cursor),
  messageId: r.message_id,
  origin: r.origin,
  state: r.state as WebhookDeliveryState,
  attempts: r.attempts,
  nextAttemptAt: Number(r.next_attempt_at),
  firstFailedAt: r.first_failed_at === null ? null : Number(r.first_failed_at),
  leaseOwner: r.lease_owner,
  createdAt: Number(r.created_at),
});

/** The columns a new delivery is written with (insertRows); the lease and first failure start NULL. */
const DELIVERY_COLUMNS = [
  'id',
  'endpoint_id',
  'tenant_id',
  'event_id',
  'event_cursor',
  'message_id',
  'origin',
  'state',
  'attempts',
  'next_attempt_at',
  'created_at',
  'updated_at',
] as const satisfies readonly (keyof WebhookDeliveriesTable)[];

const ATTEMPT_COLUMNS = [
  'id',
  'endpoint_id',
  'event_ids',
  'attempt',
  'at',
  'outcome',
  'status',
  'latency_ms',
  'error',
  'response_excerpt',
] as const satisfies readonly (keyof WebhookAttemptsTable)[];

/** Not yet done or given up: leased (in flight) or not. */
const OPEN = ['queued', 'retry'] as const;

/**
 * What a claim hands the sender: the columns it works with. Rows come back from the claim's UPDATE
 * (RETURNING), and building a JavaScript object per column per row was a third of the claim's cost.
 */
export type ClaimedWebhookDelivery = Pick<
  WebhookDeliveryRow,
  'id' | 'endpointId' | 'eventId' | 'eventCursor' | 'messageId' | 'attempts' | 'firstFailedAt'
>;

export interface WebhookClaim {
  owner: string;
  now: number;
  leaseMs: number;
  limit: number;
  /** This node's data region ('' or absent: none): deliveries of tenants pinned elsewhere are not claimed. */
  region?: string;
}

export function webhookDeliveriesRepository(db: Kysely<Database>, dialect: DialectName, cipher: ContentCipher) {
  async function claimIn(db: Kysely<Database>, o: WebhookClaim): Promise<ClaimedWebhookDelivery[]> {
    const claimed: ClaimedWebhookDelivery[] = [];
    if (dialect === 'postgres') {
      // A burst queues rows faster than autoanalyze sees them: planned with the stale estimate
      // (a few due rows), the claim took a bitmap scan, ran the ordering check on every due row and
      // sorted them, instead of walking the due index in order and stopping at the limit. Measured
      // on 21,000 deliveries claimed 1,024 at a time: 100–170 ms per claim, 30–60 ms without
      // bitmap scans. `local`: the setting ends with the transaction, whose last statements are these.
      await sql`set local enable_bitmapscan = off`.execute(db);
    }
    for (const state of ['retry', 'queued'] as const) {
      const room = o.limit - claimed.length;
      if (room <= 0) break;
      let candidates = db
        .selectFrom('webhook_deliveries as d')
        .select('d.id')
        .where('d.state', '=', state)
        .where('d.next_attempt_at', '<=', o.now)
        // In flight (under a live lease) on some node; a lapsed lease makes it due again.
        .where((eb) => eb.or([eb('d.lease_expires_at', 'is', null), eb('d.lease_expires_at', '<=', o.now)]))
        .where(({ not, exists, selectFrom }) =>
          not(
            exists(
              selectFrom('webhook_deliveries as e')
                .select(sql`1`.as('one'))
                .whereRef('e.endpoint_id', '=', 'd.endpoint_id')
                .whereRef('e.message_id', '=', 'd.message_id')
                .whereRef('e.event_cursor', '<', 'd.event_cursor')
                .where('e.state', 'in', [...OPEN]),
            ),
          ),
        )
        // Residency: events of a tenant pinned to another region leave only from a node of it.
        .where(
          'd.tenant_id',
          'not in',
          db
            .selectFrom('tenants')
            .select('id')
            .where('data_region', 'is not', null)
            .where('data_region', '<>', o.region ?? ''),
        )
        .orderBy('d.next_attempt_at')
        .limit(room);
      if (dialect === 'postgres') candidates = candidates.forUpdate().skipLocked();
      // The lease alone: `state` stays, so no index entry changes (see the states above).
      const rows = await db
        .updateTable('webhook_deliveries')
        .set((eb) => ({
          lease_owner: o.owner,
          lease_expires_at: o.now + o.leaseMs,
          attempts: eb('attempts', '+', 1),
          updated_at: o.now,
        }))
        .where('id', 'in', candidates)
        .returning(['id', 'endpoint_id', 'event_id', 'event_cursor', 'message_id', 'attempts', 'first_failed_at'])
        .execute();
      for (const r of rows) {
        claimed.push({
          id: r.id,
          endpointId: r.endpoint_id,
          eventId: r.event_id,
          eventCursor: Number(r.event_cursor),
          messageId: r.message_id,
          attempts: r.attempts,
          firstFailedAt: r.first_failed_at === null ? null : Number(r.first_failed_at),
        });
      }
    }
    return claimed;
  }

  return {
    /** Adds deliveries; one already there for the same endpoint, event and origin is left alone (idempotent fan-out). */
    async insertMany(rows: NewWebhookDelivery[], now: number): Promise<void> {
      for (let i = 0; i < rows.length; i += 400) {
        await insertRows(
          db as Kysely<unknown>,
          dialect,
          'webhook_deliveries',
          DELIVERY_COLUMNS,
          rows
            .slice(i, i + 400)
            .map((r) => [r.id, r.endpointId, r.tenantId, r.eventId, r.eventCursor, r.messageId, r.origin, 'queued', 0, now, now, now]),
          'on conflict ("endpoint_id", "event_id", "origin") do nothing',
        );
      }
    },

    /**
     * Claims due deliveries (retries, then new ones, each earliest first; a lapsed lease is due again),
     * skipping those an earlier open event of the same message to the same endpoint holds back.
     * PostgreSQL: SKIP LOCKED lets several nodes claim at once.
     */
    claimDue(o: WebhookClaim): Promise<ClaimedWebhookDelivery[]> {
      // One transaction for the statements: on SQLite that is one commit (one fsync) per claim,
      // not three; the claim round trip bounds how fast a message's next event can follow.
      return db.isTransaction ? claimIn(db, o) : db.transaction().execute((tx) => claimIn(tx, o));
    },

    /**
     * Settles in-flight deliveries this owner holds: done, retry at a time, or dead. Guarded by the
     * owner; returns how many rows it changed.
     */
    async settle(s: {
      ids: readonly string[];
      owner: string;
      now: number;
      outcome: { kind: 'done' } | { kind: 'retry'; at: number } | { kind: 'dead' };
    }): Promise<number> {
      const o = s.outcome;
      let n = 0;
      // Chunks bound one statement's work (the ids are one parameter, param-list.ts).
      for (let i = 0; i < s.ids.length; i += 2000) {
        const r = await db
          .updateTable('webhook_deliveries')
          .set((eb) => ({
            state: o.kind,
            lease_owner: null,
            lease_expires_at: null,
            updated_at: s.now,
            ...(o.kind === 'retry' ? { next_attempt_at: o.at, first_failed_at: eb.fn.coalesce('first_failed_at', eb.val(s.now)) } : {}),
          }))
          .where('id', 'in', textList(dialect, s.ids.slice(i, i + 2000)))
          .where('lease_owner', '=', s.owner)
          .where('state', 'in', [...OPEN])
          .executeTakeFirst();
        n += Number(r.numUpdatedRows);
      }
      return n;
    },

    async renewLeases(owner: string, ids: readonly string[], expiresAt: number): Promise<number> {
      let n = 0;
      for (let i = 0; i < ids.length; i += 500) {
        const r = await db
          .updateTable('webhook_deliveries')
          .set({ lease_expires_at: expiresAt })
          .where('lease_owner', '=', owner)
          .where('state', 'in', [...OPEN])
          .where('id', 'in', textList(dialect, ids.slice(i, i + 500)))
          .executeTakeFirst();
        n += Number(r.numUpdatedRows);
      }
      return n;
    },

    /** Gives back every lease an owner holds (clean stop) without counting an attempt; due at once (it was when claimed). */
    async releaseOwned(owner: string, now: number): Promise<number> {
      const r = await db
        .updateTable('webhook_deliveries')
        .set((eb) => ({
          lease_owner: null,
          lease_expires_at: null,
          attempts: eb('attempts', '-', 1),
          updated_at: now,
        }))
        .where('lease_owner', '=', owner)
        .where('state', 'in', [...OPEN])
        .executeTakeFirst();
      return Number(r.numUpdatedRows);
    },

    /** Gives up every open delivery of an endpoint (it was disabled or deleted). */
    async killOpen(endpointId: string, now: number): Promise<number> {
      const r = await db
        .updateTable('webhook_deliveries')
        .set({ state: 'dead', lease_owner: null, lease_expires_at: null, updated_at: now })
        .where('endpoint_id', '=', endpointId)
        .where('state', 'in', [...OPEN])
        .executeTakeFirst();
      return Number(r.numUpdatedRows);
    },

    /** Open deliveries held under a lease, live or lapsed (operators' view; the crash tests read it at a kill). */
    async listInFlight(): Promise<WebhookDeliveryRow[]> {
      const rows = await db
        .selectFrom('webhook_deliveries')
        .selectAll()
        .where('lease_owner', 'is not', null)
        .where('state', 'in', [...OPEN])
        .execute();
      return rows.map(toDelivery);
    },

    async countOpen(endpointId?: string): Promise<number> {
      let q = db
        .selectFrom('webhook_deliveries')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('state', 'in', [...OPEN]);
      if (endpointId) q = q.where('endpoint_id', '=', endpointId);
      const r = await q.executeTakeFirstOrThrow();
      return Number(r.n);
    },

    /**
     * Deletes up to `limit` settled deliveries (done, dead) made before `before`, oldest first, and
     * answers how many went. By primary-key range (ids begin with their time): no index the hot
     * path would pay for. Open ones stay, however old.
     */
    async deleteSettledBefore(before: number, limit: number): Promise<number> {
      const r = await db
        .deleteFrom('webhook_deliveries')
        .where(
          'id',
          'in',
          db
            .selectFrom('webhook_deliveries')
            .select('id')
            .where('id', '<', idFloor('whd', before))
            .where('state', 'in', ['done', 'dead'])
            .orderBy('id')
            .limit(limit),
        )
        .executeTakeFirst();
      return Number(r.numDeletedRows);
    },

    /** Deletes up to `limit` attempts made before `before`, oldest first (by primary-key range); answers how many went. */
    async deleteAttemptsBefore(before: number, limit: number): Promise<number> {
      const r = await db
        .deleteFrom('webhook_attempts')
        .where(
          'id',
          'in',
          db.selectFrom('webhook_attempts').select('id').where('id', '<', idFloor('wha', before)).orderBy('id').limit(limit),
        )
        .executeTakeFirst();
      return Number(r.numDeletedRows);
    },

    async insertAttempts(rows: WebhookAttemptRow[]): Promise<void> {
      for (let i = 0; i < rows.length; i += 400) {
        await insertRows(
          db as Kysely<unknown>,
          dialect,
          'webhook_attempts',
          ATTEMPT_COLUMNS,
          rows
            .slice(i, i + 400)
            .map((a) => [
              a.id,
              a.endpointId,
              JSON.stringify(a.eventIds),
              a.attempt,
              a.at,
              a.outcome,
              a.status,
              a.latencyMs,
              a.error,
              a.responseExcerpt,
            ]),
        );
      }
    },

    /** An endpoint's attempts, newest first, paged by id (`before`: the last id of the previous page). */
    async listAttempts(endpointId: string, opts: { before?: string; limit: number }): Promise<WebhookAttemptRow[]> {
      let q = db.selectFrom('webhook_attempts').selectAll().where('endpoint_id', '=', endpointId);
      if (opts.before) q = q.where('id', '<', opts.before);
      const rows = await q.orderBy('id', 'desc').limit(opts.limit).execute();
      return rows.map(
        (a: WebhookAttemptsTable): WebhookAttemptRow => ({
          id: a.id,
          endpointId: a.endpoint_id,
          eventIds: JSON.parse(a.event_ids) as string[],
          attempt: a.attempt,
          at: Number(a.at),
          outcome: a.outcome as WebhookAttemptRow['outcome'],
          status: a.status,
          latencyMs: a.latency_ms,
          error: a.error,
          responseExcerpt: a.response_excerpt,
        }),
      );
    },

    /** Events by id (the payloads of claimed deliveries). */
    async events(ids: readonly string[]): Promise<SpineEvent[]> {
      const out: SpineEvent[] = [];
      const unique = [...new Set(ids)];
      for (let i = 0; i < unique.length; i += 500) {
        const rows = await db
          .selectFrom('events')
          .selectAll()
          .where('id', 'in', unique.slice(i, i + 500))
          .execute();
        out.push(...(await readEvents(db, cipher, rows)));
      }
      return out;
    },

    /** The stream and sending address of messages, for endpoint filters on stream and domain. */
    async messageFacts(ids: readonly string[]): Promise<Map<string, { stream: string; from: string }>> {
      const out = new Map<string, { stream: string; from: string }>();
      const unique = [...new Set(ids)];
      for (let i = 0; i < unique.length; i += 500) {
        const rows = await db
          .selectFrom('messages')
          .select(['id', 'stream', 'from_address'])
          .where('id', 'in', unique.slice(i, i + 500))
          .execute();
        for (const r of rows) out.set(r.id, { stream: r.stream, from: r.from_address });
      }
      return out;
    },

    /** Events of a tenant in a window for a replay: by time or by cursor bounds, optionally by type and message. */
    async eventsForReplay(q: {
      tenantId: string;
      fromAt?: number;
      toAt?: number;
      afterCursor?: number;
      toCursor?: number;
      types?: readonly string[];
      messageId?: string;
      afterPage?: number;
      limit: number;
    }): Promise<SpineEvent[]> {
      let s = db.selectFrom('events').selectAll().where('tenant_id', '=', q.tenantId);
      if (q.fromAt !== undefined) s = s.where('at', '>=', q.fromAt);
      if (q.toAt !== undefined) s = s.where('at', '<', q.toAt);
      if (q.afterCursor !== undefined) s = s.where('cursor', '>', q.afterCursor);
      if (q.toCursor !== undefined) s = s.where('cursor', '<=', q.toCursor);
      if (q.afterPage !== undefined) s = s.where('cursor', '>', q.afterPage);
      if (q.types?.length) s = s.where('type', 'in', [...q.types]);
      if (q.messageId) s = s.where('message_id', '=', q.messageId);
      const rows = await s.orderBy('cursor').limit(q.limit).execute();
      return readEvents(db, cipher, rows);
    },
  };
}
