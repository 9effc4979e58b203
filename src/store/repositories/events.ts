import { type Kysely, sql } from 'kysely';
import { type EventType, isoTime, type NewEvent, newId, type SpineEvent } from '../../core/index.js';
import type { DialectName } from '../dialect.js';
import type { Database, EventsTable } from '../schema.js';

/**
 * The events spine: append-only, one global cursor, a per-message sequence.
 *
 * Readers page with `cursor > after`, so cursors must become visible in the order they were assigned.
 * On PostgreSQL a sequence does not give that: a transaction that took cursor 11 can commit before the
 * one holding 10, and a reader between the two commits would skip 10 for ever. So every appender takes
 * one transaction-scoped advisory lock before it draws cursors; the lock is held until commit, which
 * makes "drew later" imply "committed later". Appends come last in their transaction to keep the lock
 * short, and group commit amortises it over many messages. SQLite has a single writer already.
 */
const SPINE_LOCK = 7_340_001;

export const toEvent = (r: EventsTable & { cursor: number }): SpineEvent => ({
  id: r.id,
  cursor: String(r.cursor),
  type: r.type as EventType,
  tenantId: r.tenant_id,
  messageId: r.message_id,
  recipientId: r.recipient_id,
  seq: r.seq,
  at: isoTime(r.at),
  data: JSON.parse(r.data) as Record<string, unknown>,
});

export interface EventPage {
  tenantId?: string;
  after?: number;
  types?: EventType[];
  messageId?: string;
  limit: number;
}

export function eventsRepository(db: Kysely<Database>, dialect: DialectName, inTransaction: boolean) {
  async function appendIn(tx: Kysely<Database>, events: NewEvent[], now: number, fresh: boolean): Promise<void> {
    if (dialect === 'postgres') await sql`select pg_advisory_xact_lock(${SPINE_LOCK})`.execute(tx);
    // Messages accepted in this very transaction have no events yet: their sequence starts at 1.
    const messageIds = fresh ? [] : [...new Set(events.map((e) => e.messageId).filter((m): m is string => !!m))];
    const nextSeq = new Map<string, number>();
    for (let i = 0; i < messageIds.length; i += 500) {
      const rows = await tx
        .selectFrom('events')
        .select(['message_id', (eb) => eb.fn.max('seq').as('seq')])
        .where('message_id', 'in', messageIds.slice(i, i + 500))
        .groupBy('message_id')
        .execute();
      for (const r of rows) if (r.message_id) nextSeq.set(r.message_id, Number(r.seq));
    }
    const rows = events.map((e) => {
      let seq = 0;
      if (e.messageId) {
        seq = (nextSeq.get(e.messageId) ?? 0) + 1;
        nextSeq.set(e.messageId, seq);
      }
      return {
        id: e.id ?? newId('evt', now),
        tenant_id: e.tenantId,
        message_id: e.messageId ?? null,
        recipient_id: e.recipientId ?? null,
        seq,
        type: e.type,
        at: now,
        data: JSON.stringify(e.data),
      };
    });
    for (let i = 0; i < rows.length; i += 400)
      await tx
        .insertInto('events')
        .values(rows.slice(i, i + 400))
        .execute();
  }

  return {
    /**
     * Appends in order. Call it last in a transaction (see the lock above). `fresh`: every message
     * named was created in this transaction, so no earlier sequence numbers need looking up.
     */
    async append(events: NewEvent[], now: number, opts: { fresh?: boolean } = {}): Promise<void> {
      if (!events.length) return;
      const fresh = opts.fresh ?? false;
      if (inTransaction || dialect === 'sqlite') return appendIn(db, events, now, fresh);
      await db.transaction().execute((tx) => appendIn(tx, events, now, fresh));
    },
    async page(p: EventPage): Promise<SpineEvent[]> {
      let q = db.selectFrom('events').selectAll();
      if (p.tenantId) q = q.where('tenant_id', '=', p.tenantId);
      if (p.after !== undefined) q = q.where('cursor', '>', p.after);
      if (p.types?.length) q = q.where('type', 'in', p.types);
      if (p.messageId) q = q.where('message_id', '=', p.messageId);
      const rows = await q.orderBy('cursor').limit(p.limit).execute();
      return rows.map((r) => toEvent(r as EventsTable & { cursor: number }));
    },
    async forMessage(messageId: string): Promise<SpineEvent[]> {
      const rows = await db.selectFrom('events').selectAll().where('message_id', '=', messageId).orderBy('seq').execute();
      return rows.map((r) => toEvent(r as EventsTable & { cursor: number }));
    },
    /** Event counts per minute and type since `since` (ms), for dashboards. Integer division is portable. */
    async minuteCounts(tenantId: string, since: number, types: EventType[]): Promise<{ minute: number; type: EventType; count: number }[]> {
      const rows = await db
        .selectFrom('events')
        .select([sql<number>`at / 60000`.as('minute'), 'type', (eb) => eb.fn.countAll<number>().as('n')])
        .where('tenant_id', '=', tenantId)
        .where('at', '>=', since)
        .where('type', 'in', types)
        .groupBy([sql`at / 60000`, 'type'])
        .execute();
      return rows.map((r) => ({ minute: Number(r.minute), type: r.type as EventType, count: Number(r.n) }));
    },
    async lastCursor(): Promise<number> {
      const r = await db
        .selectFrom('events')
        .select((eb) => eb.fn.max('cursor').as('c'))
        .executeTakeFirst();
      return r?.c == null ? 0 : Number(r.c);
    },
  };
}
