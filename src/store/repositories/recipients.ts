import { type Kysely, sql } from 'kysely';
import { cancellableStates, type RecipientState } from '../../core/index.js';
import type { ContentCipher } from '../content-cipher.js';
import type { DialectName } from '../dialect.js';
import type { Database, RecipientsTable } from '../schema.js';
import { insertObjects } from './insert-rows.js';

export interface RecipientRow {
  id: string;
  messageId: string;
  tenantId: string;
  address: string;
  domain: string;
  /** 'to' | 'cc' | 'bcc' | 'envelope' (SMTP submission: RCPT TO only) */
  kind: string;
  state: RecipientState;
  attempts: number;
  nextAttemptAt: number;
  leaseOwner: string | null;
  leaseExpiresAt: number | null;
  lastReply: Record<string, unknown> | null;
  createdAt: number;
  updatedAt: number;
  /** Why a node of another region left it waiting (migration 025, docs/residency.md); cleared when claimed. */
  heldReason?: string | null;
}

export const recipientAddressAt = (id: string) => `recipients.address:${id}`;
/** The last remote reply: the SMTP transcript summary of the latest attempt. */
export const recipientReplyAt = (id: string) => `recipients.last_reply:${id}`;

const toRecipient = (r: RecipientsTable): RecipientRow => ({
  id: r.id,
  messageId: r.message_id,
  tenantId: r.tenant_id,
  address: r.address,
  domain: r.domain,
  kind: r.kind,
  state: r.state as RecipientState,
  attempts: r.attempts,
  nextAttemptAt: r.next_attempt_at,
  leaseOwner: r.lease_owner,
  leaseExpiresAt: r.lease_expires_at,
  lastReply: r.last_reply ? (JSON.parse(r.last_reply) as Record<string, unknown>) : null,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  heldReason: r.held_reason ?? null,
});

export interface ClaimOptions {
  owner: string;
  now: number;
  leaseMs: number;
  limit: number;
  /**
   * The claiming node's data region ('' or absent: none). Recipients of tenants pinned to another
   * region are never claimed (docs/residency.md); unpinned tenants' recipients are claimed by all.
   */
  region?: string;
}

/** Held for residency: what markHeld changed, with the region the recipient's tenant is pinned to. */
export interface HeldRecipient {
  recipient: RecipientRow;
  tenantRegion: string;
}

export interface Settle {
  id: string;
  owner: string;
  state: RecipientState;
  now: number;
  nextAttemptAt?: number;
  lastReply?: Record<string, unknown> | null;
  /** Give back the attempt the claim counted (nothing went on the wire). */
  refundAttempt?: boolean;
  /** The recipient's tenant, whose key seals the reply (looked up when absent). */
  tenantId?: string;
}

/** Recipients as leased work: claimDue, renewLeases and releaseOwned are queue/leased-work.ts's contract. */
export function recipientsRepository(db: Kysely<Database>, dialect: DialectName, cipher: ContentCipher) {
  const open = async (r: RecipientsTable): Promise<RecipientRow> => ({
    ...toRecipient({ ...r, last_reply: null }),
    address: await cipher.openText(db, recipientAddressAt(r.id), r.address),
    lastReply: r.last_reply ? await cipher.openJson(db, recipientReplyAt(r.id), r.last_reply) : null,
  });
  const openAll = (rows: RecipientsTable[]) => Promise.all(rows.map(open));
  const sealReply = (tenantId: string, id: string, reply: Record<string, unknown> | null) =>
    reply ? cipher.sealText(db, tenantId, recipientReplyAt(id), JSON.stringify(reply)) : Promise.resolve(null);
  /** Ids of tenants pinned to a region other than `region` ('' = the node has none: every pinned tenant). */
  const pinnedElsewhere = (region: string) =>
    db.selectFrom('tenants').select('id').where('data_region', 'is not', null).where('data_region', '<>', region);
  /**
   * `settle` for many recipients in one statement per 200 (delivery's group commit): answers, in
   * order, whether each one's guard held. On PostgreSQL a statement per recipient was a round trip
   * per delivered message. Both dialects run it as an UPDATE … FROM a VALUES list (SQLite ≥ 3.33).
   */
  async function settleMany(items: readonly Settle[]): Promise<boolean[]> {
    // A recipient twice in one call settles once, by its first outcome, as a statement each would.
    const seen = new Set<string>();
    const first = items.filter((s) => !seen.has(s.id) && seen.add(s.id));
    const rows = await Promise.all(
      first.map(async (s) => {
        let reply: string | null | undefined;
        if (s.lastReply) {
          const tenantId =
            s.tenantId ?? (await db.selectFrom('recipients').select('tenant_id').where('id', '=', s.id).executeTakeFirst())?.tenant_id;
          reply = await sealReply(tenantId ?? '', s.id, s.lastReply);
        } else if (s.lastReply === null) reply = null;
        return { s, reply };
      }),
    );
    const settled = new Set<string>();
    for (let i = 0; i < rows.length; i += 200) {
      // Casts in the rows: PostgreSQL types a VALUES list's parameters as text otherwise.
      const values = sql.join(
        rows
          .slice(i, i + 200)
          .map(
            ({ s, reply }) =>
              sql`(${s.id}, ${s.owner}, ${s.state}, cast(${s.refundAttempt ? 1 : 0} as integer), cast(${s.nextAttemptAt ?? null} as bigint), cast(${reply === undefined ? 0 : 1} as integer), ${reply ?? null}, cast(${s.now} as bigint))`,
          ),
      );
      const r = await sql<{ id: string }>`
        with v (rid, owner, state, refund, next_at, set_reply, reply, at) as (values ${values})
        update recipients set
          state = v.state,
          attempts = recipients.attempts - v.refund,
          lease_owner = null,
          lease_expires_at = null,
          updated_at = v.at,
          next_attempt_at = coalesce(v.next_at, recipients.next_attempt_at),
          last_reply = case when v.set_reply = 1 then v.reply else recipients.last_reply end
        from v
        where recipients.id = v.rid and recipients.state = 'in_flight' and recipients.lease_owner = v.owner
        returning id`.execute(db);
      for (const row of r.rows) settled.add(row.id);
    }
    return items.map((s) => settled.delete(s.id));
  }
  return {
    async insertMany(rows: RecipientRow[]): Promise<void> {
      if (!rows.length) return;
      // SQLite caps bound parameters per statement; 14 columns × 500 rows stays well under it.
      for (let i = 0; i < rows.length; i += 500) {
        const values = await Promise.all(
          rows.slice(i, i + 500).map(async (r) => ({
            id: r.id,
            message_id: r.messageId,
            tenant_id: r.tenantId,
            address: await cipher.sealText(db, r.tenantId, recipientAddressAt(r.id), r.address),
            address_hash: await cipher.addressHash(db, r.tenantId, r.address),
            domain: r.domain,
            kind: r.kind,
            state: r.state,
            attempts: r.attempts,
            next_attempt_at: r.nextAttemptAt,
            lease_owner: r.leaseOwner,
            lease_expires_at: r.leaseExpiresAt,
            last_reply: await sealReply(r.tenantId, r.id, r.lastReply),
            created_at: r.createdAt,
            updated_at: r.updatedAt,
          })),
        );
        await insertObjects(db, dialect, 'recipients', values);
      }
    },
    async listByMessage(messageId: string): Promise<RecipientRow[]> {
      const rows = await db.selectFrom('recipients').selectAll().where('message_id', '=', messageId).orderBy('id').execute();
      return openAll(rows);
    },
    async listByMessages(messageIds: string[]): Promise<RecipientRow[]> {
      if (!messageIds.length) return [];
      const rows = await db.selectFrom('recipients').selectAll().where('message_id', 'in', messageIds).orderBy('id').execute();
      return openAll(rows);
    },
    async get(id: string): Promise<RecipientRow | undefined> {
      const r = await db.selectFrom('recipients').selectAll().where('id', '=', id).executeTakeFirst();
      return r && open(r);
    },
    /**
     * Claims due work under a lease: in-flight recipients whose lease expired (their worker died),
     * then deferred ones whose retry time has come, then queued ones, each kind earliest first. The
     * older kinds go first so a flood of new mail never starves retries.
     *
     * Each kind is its own statement in index order (recipients_due is state, then time), so a claim
     * reads at most `limit` index entries however deep the queue is; one query with OR across the
     * kinds sorted every due row on every claim. On PostgreSQL many nodes claim at once, so the
     * candidate rows are locked with SKIP LOCKED; SQLite has one writer and needs no locking.
     */
    async claimDue(o: ClaimOptions): Promise<RecipientRow[]> {
      const claimed: RecipientRow[] = [];
      for (const state of ['in_flight', 'deferred', 'queued'] as const) {
        const room = o.limit - claimed.length;
        if (room <= 0) break;
        const due = state === 'in_flight' ? 'lease_expires_at' : 'next_attempt_at';
        let candidates = db
          .selectFrom('recipients')
          .select('id')
          .where('state', '=', state)
          .where(due, '<=', o.now)
          // Residency: never a tenant pinned to another region. Uncorrelated, so both dialects
          // evaluate the (small) set of such tenants once per statement, not once per row.
          .where('tenant_id', 'not in', pinnedElsewhere(o.region ?? ''))
          .orderBy(due)
          .limit(room);
        if (dialect === 'postgres') candidates = candidates.forUpdate().skipLocked();
        const rows = await db
          .updateTable('recipients')
          .set((eb) => ({
            state: 'in_flight',
            lease_owner: o.owner,
            lease_expires_at: o.now + o.leaseMs,
            attempts: eb('attempts', '+', 1),
            updated_at: o.now,
            held_reason: null,
          }))
          .where('id', 'in', candidates)
          .returningAll()
          .execute();
        claimed.push(...(await openAll(rows)));
      }
      return claimed.sort((a, b) => a.nextAttemptAt - b.nextAttemptAt);
    },
    /**
     * Settles an in-flight recipient. Guarded by the lease owner so a worker whose lease expired and
     * was taken over can never overwrite the new owner's outcome. Returns false when the guard failed.
     */
    async settle(s: Settle): Promise<boolean> {
      const [ok] = await settleMany([s]);
      return ok === true;
    },
    settleMany,
    /**
     * Extends the leases of the given in-flight recipients an owner still holds: a live node
     * heartbeats the work it is running, so only a dead node's work (or work this node gave up on,
     * such as an outcome it failed to store) is taken over by another once the lease ends.
     */
    async renewLeases(owner: string, ids: readonly string[], expiresAt: number): Promise<number> {
      let n = 0;
      for (let i = 0; i < ids.length; i += 500) {
        const r = await db
          .updateTable('recipients')
          .set({ lease_expires_at: expiresAt })
          .where('state', '=', 'in_flight')
          .where('lease_owner', '=', owner)
          .where('id', 'in', ids.slice(i, i + 500))
          .executeTakeFirst();
        n += Number(r.numUpdatedRows);
      }
      return n;
    },
    /**
     * Cancels recipients that still wait in the queue (queued or deferred, so no worker holds them)
     * and returns the rows it changed. The state guard is in the UPDATE itself: a claim that won the
     * race (the row is in_flight now) makes the row drop out, and on PostgreSQL the UPDATE waits for
     * a claim holding the row lock and then re-reads the state, so a recipient is never both
     * cancelled and handed to a worker. The caller compares the returned rows with what it asked for.
     */
    async cancel(ids: readonly string[], now: number): Promise<RecipientRow[]> {
      const changed: RecipientRow[] = [];
      for (let i = 0; i < ids.length; i += 500) {
        const rows = await db
          .updateTable('recipients')
          .set({ state: 'cancelled', lease_owner: null, lease_expires_at: null, updated_at: now })
          .where('id', 'in', ids.slice(i, i + 500))
          .where('state', 'in', [...cancellableStates])
          .returningAll()
          .execute();
        changed.push(...(await openAll(rows)));
      }
      return changed;
    },
    /**
     * Residency (docs/residency.md): marks at most `limit` waiting recipients (queued or deferred)
     * of tenants pinned to another region than `region`, due since `dueBefore` or earlier and not
     * marked yet, as held (`held_reason`), and returns them for their `recipient.held` events. The
     * state does not change: the rows stay for a node of the tenant's region, whose claim clears
     * the mark. Guarded on the mark and the state, so two nodes marking at once mark a row once.
     */
    async markHeld(o: { region: string; dueBefore: number; now: number; limit: number }): Promise<HeldRecipient[]> {
      const candidates = await db
        .selectFrom('recipients')
        .innerJoin('tenants', 'tenants.id', 'recipients.tenant_id')
        .select(['recipients.id as id', 'tenants.data_region as region'])
        .where('recipients.state', 'in', ['queued', 'deferred'])
        .where('recipients.next_attempt_at', '<=', o.dueBefore)
        .where('recipients.held_reason', 'is', null)
        .where('tenants.data_region', 'is not', null)
        .where('tenants.data_region', '<>', o.region)
        .orderBy('recipients.next_attempt_at')
        .limit(o.limit)
        .execute();
      const byRegion = new Map<string, string[]>();
      for (const c of candidates) {
        const list = byRegion.get(c.region!) ?? [];
        list.push(c.id);
        byRegion.set(c.region!, list);
      }
      const held: HeldRecipient[] = [];
      for (const [tenantRegion, ids] of byRegion) {
        const reason = `residency: the tenant's data is pinned to region ${tenantRegion}; a node of ${o.region ? `region ${o.region}` : 'no region'} left it for a node of ${tenantRegion}`;
        const rows = await db
          .updateTable('recipients')
          .set({ held_reason: reason })
          .where('id', 'in', ids)
          .where('held_reason', 'is', null)
          .where('state', 'in', ['queued', 'deferred'])
          .returningAll()
          .execute();
        for (const recipient of await openAll(rows)) held.push({ recipient, tenantRegion });
      }
      return held;
    },
    /** Gives back every lease an owner holds (graceful shutdown) without counting an attempt. */
    async releaseOwned(owner: string, now: number): Promise<number> {
      const r = await db
        .updateTable('recipients')
        .set((eb) => ({ state: 'queued', lease_owner: null, lease_expires_at: null, attempts: eb('attempts', '-', 1), updated_at: now }))
        .where('state', '=', 'in_flight')
        .where('lease_owner', '=', owner)
        .executeTakeFirst();
      return Number(r.numUpdatedRows);
    },
    /** Recipients not yet in a terminal state: the queue depth used for backpressure. */
    async countOpen(): Promise<number> {
      const r = await db
        .selectFrom('recipients')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('state', 'in', ['queued', 'deferred', 'in_flight'])
        .executeTakeFirstOrThrow();
      return Number(r.n);
    },
    /** Undelivered recipients per recipient domain, with the oldest acceptance time: queue gauges. */
    async queueStats(limit = 200): Promise<{ domain: string; depth: number; oldestAt: number }[]> {
      const rows = await db
        .selectFrom('recipients')
        .select(['domain', (eb) => eb.fn.countAll<number>().as('depth'), (eb) => eb.fn.min('created_at').as('oldest')])
        .where('state', 'in', ['queued', 'deferred', 'in_flight'])
        .groupBy('domain')
        .orderBy('depth', 'desc')
        .limit(limit)
        .execute();
      return rows.map((r) => ({ domain: r.domain, depth: Number(r.depth), oldestAt: Number(r.oldest) }));
    },
    async nextDueAt(): Promise<number | null> {
      const r = await db
        .selectFrom('recipients')
        .select((eb) => eb.fn.min('next_attempt_at').as('t'))
        .where('state', 'in', ['queued', 'deferred'])
        .executeTakeFirst();
      return r?.t == null ? null : Number(r.t);
    },
  };
}
