import { type Kysely, sql } from 'kysely';
import type { ContentCipher } from '../content-cipher.js';
import type { DialectName } from '../dialect.js';
import type { Database, MessagesTable } from '../schema.js';
import { insertObjects } from './insert-rows.js';
import { recipientAddressAt } from './recipients.js';

export interface MessageRow {
  id: string;
  tenantId: string;
  stream: string;
  from: string;
  subject: string;
  messageIdHeader: string;
  size: number;
  tags: string[];
  metadata: Record<string, string>;
  /** 'api' | 'smtp' */
  source: string;
  sandbox: boolean;
  createdAt: number;
  /** Return path and expected alignment fixed at accept time (identity's shape); null before they were kept. */
  identity?: Record<string, unknown> | null;
  /** The template it was rendered from (migration 017); null or absent for literal content. */
  template?: MessageTemplateRef | null;
  /** The classification decision taken at accept time (migration 029): rule ids, never matched data. */
  classification?: Record<string, unknown> | null;
}

/** A message as delivery needs it: the subject is not opened (the stored body carries it). */
export type DeliveryMessage = Omit<MessageRow, 'subject'>;

/** Which template, version and locale a message was rendered from. */
export interface MessageTemplateRef {
  id: string;
  name: string;
  version: number;
  locale: string;
}

const toMessage = (r: MessagesTable): MessageRow => ({
  id: r.id,
  tenantId: r.tenant_id,
  stream: r.stream,
  from: r.from_address,
  subject: r.subject,
  messageIdHeader: r.message_id_header,
  size: r.size,
  tags: JSON.parse(r.tags) as string[],
  metadata: JSON.parse(r.metadata) as Record<string, string>,
  source: r.source,
  sandbox: r.sandbox === 1,
  createdAt: r.created_at,
  identity: r.identity ? (JSON.parse(r.identity) as Record<string, unknown>) : null,
  template: r.template ? (JSON.parse(r.template) as MessageTemplateRef) : null,
  classification: r.classification ? (JSON.parse(r.classification) as Record<string, unknown>) : null,
});

/** Message search (GET /v1/messages): every field optional, all given ones must match. */
export interface MessageSearch {
  /** Part of a recipient address (case-insensitive). */
  to?: string;
  /** Part of the From address (case-insensitive). */
  from?: string;
  /** A tag, exactly. */
  tag?: string;
  /** `key=value` of the metadata, exactly. */
  metadata?: { key: string; value: string };
  /** Some recipient of the message is in this state. */
  state?: string;
  /** created_at >= since, < until (ms). */
  since?: number;
  until?: number;
  /** Words that must all appear in the subject (case-insensitive). */
  q?: string;
  /** Cursor: ids smaller than this one (newest first). */
  before?: string;
  limit: number;
}

/** A LIKE pattern that matches `s` anywhere, with LIKE's own wildcards escaped (ESCAPE '!'). */
const contains = (s: string) => `%${s.toLowerCase().replace(/[!%_]/g, (c) => `!${c}`)}%`;

/** Where each sealed column lives: the associated data that binds a sealed value to its row. */
export const subjectAt = (id: string) => `messages.subject:${id}`;
export const bodyAt = (id: string) => `message_bodies.raw:${id}`;

/** Rows a search by subject words or part of an address opens at most: sealed text cannot be matched in SQL. */
const SEARCH_SCAN_LIMIT = 5000;

export function messagesRepository(db: Kysely<Database>, dialect: DialectName, cipher: ContentCipher) {
  const open = async (r: MessagesTable): Promise<MessageRow> =>
    toMessage({ ...r, subject: await cipher.openText(db, subjectAt(r.id), r.subject) });
  const openAll = (rows: MessagesTable[]) => Promise.all(rows.map(open));
  /** Of these messages, those with a recipient whose opened address contains `part` (and in `state`). */
  async function messagesWithRecipient(ids: string[], part: string, state?: string): Promise<Set<string>> {
    if (!ids.length) return new Set();
    let q = db.selectFrom('recipients').select(['id', 'message_id', 'address']).where('message_id', 'in', ids);
    if (state) q = q.where('state', '=', state);
    const out = new Set<string>();
    for (const r of await q.execute()) {
      if ((await cipher.openText(db, recipientAddressAt(r.id), r.address)).toLowerCase().includes(part)) out.add(r.message_id);
    }
    return out;
  }
  return {
    /** Inserts messages and their bodies (the body is stored once, whatever the recipient count). */
    async insertMany(items: { message: MessageRow; raw: Buffer }[]): Promise<void> {
      if (!items.length) return;
      const sealed = await Promise.all(
        items.map(async ({ message: m, raw }) => ({
          subject: await cipher.sealText(db, m.tenantId, subjectAt(m.id), m.subject),
          raw: await cipher.sealBytes(db, m.tenantId, bodyAt(m.id), raw),
        })),
      );
      await insertObjects(
        db,
        dialect,
        'messages',
        items.map(({ message: m }, i) => ({
          id: m.id,
          tenant_id: m.tenantId,
          stream: m.stream,
          from_address: m.from,
          subject: sealed[i]!.subject,
          message_id_header: m.messageIdHeader,
          size: m.size,
          tags: JSON.stringify(m.tags),
          metadata: JSON.stringify(m.metadata),
          source: m.source,
          sandbox: m.sandbox ? 1 : 0,
          created_at: m.createdAt,
          identity: m.identity ? JSON.stringify(m.identity) : null,
          template: m.template ? JSON.stringify(m.template) : null,
          classification: m.classification ? JSON.stringify(m.classification) : null,
          // The purge selects by class (migration 030); the decision JSON keeps it with the rule that set it.
          retention_class: typeof m.classification?.retention_class === 'string' ? m.classification.retention_class : null,
        })),
      );
      await insertObjects(
        db,
        dialect,
        'message_bodies',
        items.map(({ message }, i) => ({ message_id: message.id, raw: sealed[i]!.raw })),
      );
    },
    async get(id: string, tenantId?: string): Promise<MessageRow | undefined> {
      let q = db.selectFrom('messages').selectAll().where('id', '=', id);
      if (tenantId) q = q.where('tenant_id', '=', tenantId);
      const r = await q.executeTakeFirst();
      return r && open(r);
    },
    /** Messages whose Message-ID header is this one (a bounce without VERP names only that). */
    async findByMessageIdHeader(header: string): Promise<MessageRow[]> {
      const rows = await db.selectFrom('messages').selectAll().where('message_id_header', '=', header).limit(10).execute();
      return openAll(rows);
    },
    async getMany(ids: string[]): Promise<MessageRow[]> {
      if (!ids.length) return [];
      return openAll(await db.selectFrom('messages').selectAll().where('id', 'in', ids).execute());
    },
    /**
     * Messages with their bodies, in one read: what delivery attempts need, for the messages of a
     * claimed window together (core/shared-read.ts `batchedRead`). Each body is opened on its own,
     * so one that cannot be opened fails only its own entry; messages not found are absent. Subjects
     * stay sealed (one decryption fewer per attempt); `get` opens them.
     */
    async withBodies(ids: readonly string[]): Promise<Map<string, Promise<{ message: DeliveryMessage; body: Buffer }>>> {
      const out = new Map<string, Promise<{ message: DeliveryMessage; body: Buffer }>>();
      if (!ids.length) return out;
      const rows = await db
        .selectFrom('messages')
        .innerJoin('message_bodies', 'message_bodies.message_id', 'messages.id')
        .selectAll('messages')
        .select('message_bodies.raw')
        .where('messages.id', 'in', [...ids])
        .execute();
      for (const { raw, ...row } of rows) {
        const { subject: _sealed, ...message } = toMessage(row);
        out.set(
          row.id,
          cipher.openBytes(db, bodyAt(row.id), raw).then((body) => ({ message, body })),
        );
      }
      return out;
    },
    async body(id: string): Promise<Buffer | undefined> {
      const r = await db.selectFrom('message_bodies').select('raw').where('message_id', '=', id).executeTakeFirst();
      return r ? cipher.openBytes(db, bodyAt(id), r.raw) : undefined;
    },
    /**
     * The bodies of a tenant's newest messages on one stream since `since` (at most `limit`): what
     * the cold-lane preflight compares opening lines with. A body whose key was shredded is left out.
     */
    async recentBodies(tenantId: string, stream: string, since: number, limit: number): Promise<{ id: string; raw: Buffer }[]> {
      const rows = await db
        .selectFrom('messages')
        .innerJoin('message_bodies', 'message_bodies.message_id', 'messages.id')
        .select(['messages.id', 'message_bodies.raw'])
        .where('messages.tenant_id', '=', tenantId)
        .where('messages.stream', '=', stream)
        .where('messages.created_at', '>=', since)
        .orderBy('messages.created_at', 'desc')
        .limit(limit)
        .execute();
      const out: { id: string; raw: Buffer }[] = [];
      for (const r of rows) {
        const raw = await cipher.openBytes(db, bodyAt(r.id), r.raw).catch((e: unknown) => {
          if ((e as { code?: string }).code === 'CONTENT_UNREADABLE') return undefined;
          throw e;
        });
        if (raw) out.push({ id: r.id, raw });
      }
      return out;
    },
    async list(tenantId: string, opts: { before?: string; limit: number }): Promise<MessageRow[]> {
      let q = db.selectFrom('messages').selectAll().where('tenant_id', '=', tenantId);
      if (opts.before) q = q.where('id', '<', opts.before);
      return openAll(await q.orderBy('id', 'desc').limit(opts.limit).execute());
    },
    /** Replaces a message's tags and metadata (PATCH /v1/messages/{id}); false when no such message. */
    async updateLabels(id: string, labels: { tags: string[]; metadata: Record<string, string> }): Promise<boolean> {
      const r = await db
        .updateTable('messages')
        .set({ tags: JSON.stringify(labels.tags), metadata: JSON.stringify(labels.metadata) })
        .where('id', '=', id)
        .executeTakeFirst();
      return Number(r.numUpdatedRows) > 0;
    },
    /**
     * Search, newest first. Portable: lower() + LIKE … ESCAPE on both dialects (SQLite's LIKE is
     * case-insensitive for ASCII only, PostgreSQL's not at all, so both sides are lowered); tags and
     * metadata are matched in their stored JSON text, which JSON.stringify writes without spaces.
     */
    async search(tenantId: string, f: MessageSearch): Promise<MessageRow[]> {
      let q = db.selectFrom('messages').selectAll().where('tenant_id', '=', tenantId);
      if (f.before) q = q.where('id', '<', f.before);
      if (f.since !== undefined) q = q.where('created_at', '>=', f.since);
      if (f.until !== undefined) q = q.where('created_at', '<', f.until);
      if (f.from) q = q.where(sql<boolean>`lower(from_address) like ${contains(f.from)} escape '!'`);
      if (f.tag) q = q.where(sql<boolean>`lower(tags) like ${contains(JSON.stringify(f.tag))} escape '!'`);
      if (f.metadata) {
        const pair = `${JSON.stringify(f.metadata.key)}:${JSON.stringify(f.metadata.value)}`;
        q = q.where(sql<boolean>`lower(metadata) like ${contains(pair)} escape '!'`);
      }
      // A whole address narrows in SQL through its keyed hash (sealed rows) or its text (rows
      // written before encryption); a part of one can only be matched once opened, below.
      const to = f.to?.trim().toLowerCase();
      const whole = to && /^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(to) ? to : undefined;
      const hash = whole ? await cipher.addressHash(db, tenantId, whole) : null;
      if (whole || f.state) {
        const { state } = f;
        q = q.where(({ exists, selectFrom, or }) => {
          let r = selectFrom('recipients').select('recipients.id').whereRef('recipients.message_id', '=', 'messages.id');
          if (whole) {
            const plain = sql<boolean>`lower(recipients.address) = ${whole}`;
            r = r.where(hash ? or([sql<boolean>`recipients.address_hash = ${hash}`, plain]) : plain);
          }
          if (state) r = r.where('recipients.state', '=', state);
          return exists(r);
        });
      }
      const words = (f.q ?? '').toLowerCase().split(/\s+/).filter(Boolean).slice(0, 8);
      const part = to && !whole ? to : undefined;
      if (!words.length && !part) return openAll(await q.orderBy('id', 'desc').limit(f.limit).execute());
      // Subjects and addresses may be sealed, so words and address parts are matched after opening,
      // newest first, over a bounded number of rows (the other filters narrow them in SQL first).
      const out: MessageRow[] = [];
      let before = f.before;
      for (let scanned = 0; scanned < SEARCH_SCAN_LIMIT && out.length < f.limit; ) {
        const page = await (before ? q.where('id', '<', before) : q).orderBy('id', 'desc').limit(200).execute();
        const matchingTo = part
          ? await messagesWithRecipient(
              page.map((m) => m.id),
              part,
              f.state,
            )
          : undefined;
        for (const m of await openAll(page)) {
          const subject = m.subject.toLowerCase();
          if (!words.every((w) => subject.includes(w)) || (matchingTo && !matchingTo.has(m.id))) continue;
          if (out.length < f.limit) out.push(m);
        }
        scanned += page.length;
        if (page.length < 200) break;
        before = page[page.length - 1]!.id;
      }
      return out;
    },
    async count(): Promise<number> {
      const r = await db
        .selectFrom('messages')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      return Number(r.n);
    },
  };
}
