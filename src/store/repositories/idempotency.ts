import type { Kysely } from 'kysely';
import type { ContentCipher } from '../content-cipher.js';
import type { Database } from '../schema.js';

/** The stored answer of a send repeats its recipients and content: sealed like them. */
export const answerAt = (tenantId: string, key: string) => `idempotency_keys.response_body:${tenantId}:${key}`;

export type IdempotencyBegin =
  | { kind: 'new' }
  | { kind: 'replay'; status: number; body: unknown }
  | { kind: 'conflict' }
  | { kind: 'in_progress' };

export function idempotencyRepository(db: Kysely<Database>, cipher: ContentCipher) {
  return {
    /**
     * Reserves a key. The insert races on the primary key, so exactly one request wins a key; the
     * others see the stored answer, a conflict (different body) or "in progress".
     *
     * A reservation older than `takeoverMs` belongs to a request that died between its commit and
     * its answer (a crash, a lost database connection): the same request may then take the key over,
     * once (the update races on the reservation time), and run again.
     */
    async begin(
      tenantId: string,
      key: string,
      requestHash: string,
      at: { now: number; ttlMs: number; takeoverMs: number },
    ): Promise<IdempotencyBegin> {
      const { now, ttlMs } = at;
      await db
        .deleteFrom('idempotency_keys')
        .where('tenant_id', '=', tenantId)
        .where('key', '=', key)
        .where('expires_at', '<=', now)
        .execute();
      const ins = await db
        .insertInto('idempotency_keys')
        .values({
          tenant_id: tenantId,
          key,
          request_hash: requestHash,
          status: 'in_progress',
          response_status: null,
          response_body: null,
          created_at: now,
          expires_at: now + ttlMs,
        })
        .onConflict((oc) => oc.columns(['tenant_id', 'key']).doNothing())
        .executeTakeFirst();
      if (Number(ins.numInsertedOrUpdatedRows ?? 0) > 0) return { kind: 'new' };
      const row = await db
        .selectFrom('idempotency_keys')
        .selectAll()
        .where('tenant_id', '=', tenantId)
        .where('key', '=', key)
        .executeTakeFirst();
      if (!row) return this.begin(tenantId, key, requestHash, at);
      if (row.request_hash !== requestHash) return { kind: 'conflict' };
      if (row.status !== 'done' || row.response_status == null) {
        if (now - row.created_at < at.takeoverMs) return { kind: 'in_progress' };
        const taken = await db
          .updateTable('idempotency_keys')
          .set({ created_at: now, expires_at: now + ttlMs })
          .where('tenant_id', '=', tenantId)
          .where('key', '=', key)
          .where('status', '=', 'in_progress')
          .where('created_at', '=', row.created_at)
          .executeTakeFirst();
        return Number(taken.numUpdatedRows) > 0 ? { kind: 'new' } : { kind: 'in_progress' };
      }
      const body = row.response_body === null ? null : await cipher.openJson<unknown>(db, answerAt(tenantId, key), row.response_body);
      return { kind: 'replay', status: row.response_status, body };
    },
    async complete(tenantId: string, key: string, status: number, body: unknown): Promise<void> {
      await db
        .updateTable('idempotency_keys')
        .set({
          status: 'done',
          response_status: status,
          response_body: await cipher.sealText(db, tenantId, answerAt(tenantId, key), JSON.stringify(body)),
        })
        .where('tenant_id', '=', tenantId)
        .where('key', '=', key)
        .execute();
    },
    /** Forgets a reservation whose request failed before anything was stored, so a retry can run. */
    async abandon(tenantId: string, key: string): Promise<void> {
      await db
        .deleteFrom('idempotency_keys')
        .where('tenant_id', '=', tenantId)
        .where('key', '=', key)
        .where('status', '=', 'in_progress')
        .execute();
    },
    async purgeExpired(now: number): Promise<number> {
      const r = await db.deleteFrom('idempotency_keys').where('expires_at', '<=', now).executeTakeFirst();
      return Number(r.numDeletedRows);
    },
  };
}
