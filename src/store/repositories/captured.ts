import type { Kysely } from 'kysely';
import type { ContentCipher } from '../content-cipher.js';
import type { CapturedMessagesTable, Database } from '../schema.js';

export const capturedToAt = (id: string) => `captured_messages.envelope_to:${id}`;

/** Sandbox captures: what would have gone on the wire, kept for listing over the API. */
export interface CapturedRow {
  id: string;
  tenantId: string;
  messageId: string;
  recipientId: string;
  envelopeFrom: string;
  envelopeTo: string;
  capturedAt: number;
}

const toRow = (r: CapturedMessagesTable): CapturedRow => ({
  id: r.id,
  tenantId: r.tenant_id,
  messageId: r.message_id,
  recipientId: r.recipient_id,
  envelopeFrom: r.envelope_from,
  envelopeTo: r.envelope_to,
  capturedAt: r.captured_at,
});

export function capturedRepository(db: Kysely<Database>, cipher: ContentCipher) {
  const open = async (r: CapturedMessagesTable) =>
    toRow({ ...r, envelope_to: await cipher.openText(db, capturedToAt(r.id), r.envelope_to) });
  return {
    /** Idempotent per recipient: a retried capture after a crash does not duplicate. */
    async insert(row: CapturedRow): Promise<void> {
      await db
        .insertInto('captured_messages')
        .values({
          id: row.id,
          tenant_id: row.tenantId,
          message_id: row.messageId,
          recipient_id: row.recipientId,
          envelope_from: row.envelopeFrom,
          envelope_to: await cipher.sealText(db, row.tenantId, capturedToAt(row.id), row.envelopeTo),
          captured_at: row.capturedAt,
        })
        .onConflict((oc) => oc.column('recipient_id').doNothing())
        .execute();
    },
    async list(tenantId: string, opts: { before?: string; limit: number }): Promise<CapturedRow[]> {
      let q = db.selectFrom('captured_messages').selectAll().where('tenant_id', '=', tenantId);
      if (opts.before) q = q.where('id', '<', opts.before);
      return Promise.all((await q.orderBy('id', 'desc').limit(opts.limit).execute()).map(open));
    },
    async get(tenantId: string, id: string): Promise<CapturedRow | undefined> {
      const r = await db
        .selectFrom('captured_messages')
        .selectAll()
        .where('tenant_id', '=', tenantId)
        .where('id', '=', id)
        .executeTakeFirst();
      return r && open(r);
    },
    /** Deletes one capture (the message and its events stay: they are the send's record). */
    async delete(tenantId: string, id: string): Promise<boolean> {
      const r = await db.deleteFrom('captured_messages').where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
      return Number(r.numDeletedRows) > 0;
    },
    /** Empties the tenant's sandbox inbox; answers how many captures went. */
    async clear(tenantId: string): Promise<number> {
      const r = await db.deleteFrom('captured_messages').where('tenant_id', '=', tenantId).executeTakeFirst();
      return Number(r.numDeletedRows);
    },
  };
}
