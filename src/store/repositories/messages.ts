import { type Kysely, sql } from 'kysely';
import type { Database, MessagesTable } from '../schema.js';

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
}

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

export function messagesRepository(db: Kysely<Database>) {
  return {
    /** Inserts messages and their bodies (the body is stored once, whatever the recipient count). */
    async insertMany(items: { message: MessageRow; raw: Buffer }[]): Promise<void> {
      if (!items.length) return;
      await db
        .insertInto('messages')
        .values(
          items.map(({ message: m }) => ({
            id: m.id,
            tenant_id: m.tenantId,
            stream: m.stream,
            from_address: m.from,
            subject: m.subject,
            message_id_header: m.messageIdHeader,
            size: m.size,
            tags: JSON.stringify(m.tags),
            metadata: JSON.stringify(m.metadata),
            source: m.source,
            sandbox: m.sandbox ? 1 : 0,
            created_at: m.createdAt,
            identity: m.identity ? JSON.stringify(m.identity) : null,
            template: m.template ? JSON.stringify(m.template) : null,
          })),
        )
        .execute();
      await db
        .insertInto('message_bodies')
        .values(items.map(({ message, raw }) => ({ message_id: message.id, raw })))
        .execute();
    },
    async get(id: string, tenantId?: string): Promise<MessageRow | undefined> {
      let q = db.selectFrom('messages').selectAll().where('id', '=', id);
      if (tenantId) q = q.where('tenant_id', '=', tenantId);
      const r = await q.executeTakeFirst();
      return r && toMessage(r);
    },
    /** Messages whose Message-ID header is this one (a bounce without VERP names only that). */
    async findByMessageIdHeader(header: string): Promise<MessageRow[]> {
      const rows = await db.selectFrom('messages').selectAll().where('message_id_header', '=', header).limit(10).execute();
      return rows.map(toMessage);
    },
    async getMany(ids: string[]): Promise<MessageRow[]> {
      if (!ids.length) return [];
      return (await db.selectFrom('messages').selectAll().where('id', 'in', ids).execute()).map(toMessage);
    },
    /** A message with its body, in one read: what each delivery attempt needs. */
    async withBody(id: string): Promise<{ message: MessageRow; body: Buffer } | undefined> {
      const r = await db
        .selectFrom('messages')
        .innerJoin('message_bodies', 'message_bodies.message_id', 'messages.id')
        .selectAll('messages')
        .select('message_bodies.raw')
        .where('messages.id', '=', id)
        .executeTakeFirst();
      return r && { message: toMessage(r), body: Buffer.from(r.raw) };
    },
    async body(id: string): Promise<Buffer | undefined> {
      const r = await db.selectFrom('message_bodies').select('raw').where('message_id', '=', id).executeTakeFirst();
      return r ? Buffer.from(r.raw) : undefined;
    },
    async list(tenantId: string, opts: { before?: string; limit: number }): Promise<MessageRow[]> {
      let q = db.selectFrom('messages').selectAll().where('tenant_id', '=', tenantId);
      if (opts.before) q = q.where('id', '<', opts.before);
      return (await q.orderBy('id', 'desc').limit(opts.limit).execute()).map(toMessage);
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
      for (const word of (f.q ?? '').split(/\s+/).filter(Boolean).slice(0, 8)) {
        q = q.where(sql<boolean>`lower(subject) like ${contains(word)} escape '!'`);
      }
      if (f.tag) q = q.where(sql<boolean>`lower(tags) like ${contains(JSON.stringify(f.tag))} escape '!'`);
      if (f.metadata) {
        const pair = `${JSON.stringify(f.metadata.key)}:${JSON.stringify(f.metadata.value)}`;
        q = q.where(sql<boolean>`lower(metadata) like ${contains(pair)} escape '!'`);
      }
      if (f.to || f.state) {
        const { to, state } = f;
        q = q.where(({ exists, selectFrom }) => {
          let r = selectFrom('recipients').select('recipients.id').whereRef('recipients.message_id', '=', 'messages.id');
          if (to) r = r.where(sql<boolean>`lower(recipients.address) like ${contains(to)} escape '!'`);
          if (state) r = r.where('recipients.state', '=', state);
          return exists(r);
        });
      }
      return (await q.orderBy('id', 'desc').limit(f.limit).execute()).map(toMessage);
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
