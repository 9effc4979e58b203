import { type Kysely, sql } from 'kysely';
import { type EventType, eventSchemaVersion, isoTime, type NewEvent, newId, type SpineEvent } from '../../core/index.js';
import type { ContentCipher } from '../content-cipher.js';
import type { DialectName } from '../dialect.js';
import type { EventTail } from '../event-tail.js';
import type { Database, EventsTable } from '../schema.js';
import { insertObjects } from './insert-rows.js';

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

/** Event data is sealed whole (its free text: replies, subjects, report excerpts) under this place. */
export const eventDataAt = (id: string) => `events.data:${id}`;

/** The JSON data of a stored event, opened. */
export async function openEventData(
  db: Kysely<Database>,
  cipher: ContentCipher,
  id: string,
  data: string,
): Promise<Record<string, unknown>> {
  return cipher.openJson(db, eventDataAt(id), data);
}

/** Stored rows to events, their data opened. */
export function readEvents(db: Kysely<Database>, cipher: ContentCipher, rows: unknown[]): Promise<SpineEvent[]> {
  return Promise.all(
    (rows as (EventsTable & { cursor: number; schema_version: number })[]).map(async (r) =>
      toEvent(r, await cipher.openJson(db, eventDataAt(r.id), r.data, { shared: true })),
    ),
  );
}

const toEvent = (r: EventsTable & { cursor: number; schema_version: number }, data: Record<string, unknown>): SpineEvent => ({
  id: r.id,
  cursor: String(r.cursor),
  type: r.type as EventType,
  tenantId: r.tenant_id,
  messageId: r.message_id,
  recipientId: r.recipient_id,
  seq: r.seq,
  at: isoTime(r.at),
  schemaVersion: Number(r.schema_version),
  data,
});

export interface EventPage {
  tenantId?: string;
  after?: number;
  /** Only events at or below this cursor (an export fixes its end when it starts). */
  upTo?: number;
  types?: EventType[];
  messageId?: string;
  /** Appended at or after this time (ms). */
  since?: number;
  /** Appended before this time (ms). */
  before?: number;
  limit: number;
}

export function eventsRepository(
  db: Kysely<Database>,
  dialect: DialectName,
  inTransaction: boolean,
  cipher: ContentCipher,
  /** Shared by the spine's readers outside transactions (store/event-tail.ts). */
  tail?: EventTail,
  /** In a store transaction: runs a function once the transaction has committed. */
  onCommit?: (fn: () => void) => void,
) {
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
    // Handed to the tail as the transaction commits, the spine's readers need not read these rows
    // back. Only where they continue what it holds (`base`): see the check after the insert.
    const mark = tail?.mark();
    const base = dialect === 'sqlite' && onCommit ? tail?.heldTo() : undefined;
    const rows = [];
    const texts: string[] = [];
    for (const e of events) {
      let seq = 0;
      if (e.messageId) {
        seq = (nextSeq.get(e.messageId) ?? 0) + 1;
        nextSeq.set(e.messageId, seq);
      }
      const id = e.id ?? newId('evt', now);
      const text = JSON.stringify(e.data);
      texts.push(text);
      rows.push({
        id,
        tenant_id: e.tenantId,
        message_id: e.messageId ?? null,
        recipient_id: e.recipientId ?? null,
        seq,
        type: e.type,
        at: now,
        data: await cipher.sealText(tx, e.tenantId, eventDataAt(id), text, { shared: true }),
        schema_version: eventSchemaVersion(e.type),
      });
    }
    for (let i = 0; i < rows.length; i += 400) await insertObjects(tx, dialect, 'events', rows.slice(i, i + 400));
    if (base === undefined) return;
    // This transaction holds SQLite's only write lock, and AUTOINCREMENT gives each new row the next
    // cursor above all ever used: if exactly as many rows lie past `base` as were inserted here, they
    // are these, every event after `base`, on consecutive cursors in insertion order.
    const past = (
      await sql<{ n: number; lo: number | null }>`select count(*) as n, min(cursor) as lo from events where cursor > ${base}`.execute(tx)
    ).rows[0];
    if (Number(past?.n) !== rows.length) return;
    const lo = Number(past?.lo);
    // What readEvents makes of these rows once stored: data as parsed from its JSON, not the caller's object.
    const appended = rows.map((r, i) =>
      toEvent({ ...r, cursor: lo + i } as EventsTable & { cursor: number; schema_version: number }, JSON.parse(texts[i]!)),
    );
    onCommit!(() => tail!.publish(mark!, base, appended));
  }

  function filtered(p: Omit<EventPage, 'limit'>) {
    let q = db.selectFrom('events');
    if (p.tenantId) q = q.where('tenant_id', '=', p.tenantId);
    if (p.after !== undefined) q = q.where('cursor', '>', p.after);
    if (p.upTo !== undefined) q = q.where('cursor', '<=', p.upTo);
    if (p.types?.length) q = q.where('type', 'in', p.types);
    if (p.messageId) q = q.where('message_id', '=', p.messageId);
    if (p.since !== undefined) q = q.where('at', '>=', p.since);
    if (p.before !== undefined) q = q.where('at', '<', p.before);
    return q;
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
      const read = async (q: EventPage) => readEvents(db, cipher, await filtered(q).selectAll().orderBy('cursor').limit(q.limit).execute());
      // What consumers read: the whole spine after a position. Anything narrower, or inside a
      // transaction (which must see its own writes), goes to the database.
      const { after } = p;
      const whole =
        p.tenantId === undefined &&
        p.upTo === undefined &&
        !p.types?.length &&
        p.messageId === undefined &&
        p.since === undefined &&
        p.before === undefined;
      if (!tail || inTransaction || !whole || after === undefined) return read(p);
      return tail.page(after, p.limit, (from, limit) => read({ after: from, limit }));
    },
    /** How many events match (the limit is ignored): an export announces it for progress. */
    async count(p: Omit<EventPage, 'limit'>): Promise<number> {
      const r = await filtered(p)
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirst();
      return Number(r?.n ?? 0);
    },
    async forMessage(messageId: string): Promise<SpineEvent[]> {
      const rows = await db.selectFrom('events').selectAll().where('message_id', '=', messageId).orderBy('seq').execute();
      return readEvents(db, cipher, rows);
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
