import { type Kysely, sql } from 'kysely';
import type { Database } from '../schema.js';

export function rateWindowsRepository(db: Kysely<Database>) {
  return {
    /**
     * Adds `n` to the window's count and returns the new total in one statement: the upsert takes
     * the row lock on PostgreSQL, so concurrent nodes each see a distinct running total.
     */
    async increment(key: string, windowStart: number, n: number, expiresAt: number): Promise<number> {
      const row = await db
        .insertInto('rate_windows')
        .values({ key, window_start: windowStart, count: n, expires_at: expiresAt })
        .onConflict((oc) => oc.columns(['key', 'window_start']).doUpdateSet({ count: sql`rate_windows.count + ${n}` }))
        .returning('count')
        .executeTakeFirstOrThrow();
      return Number(row.count);
    },
    async purgeExpired(now: number): Promise<number> {
      const r = await db.deleteFrom('rate_windows').where('expires_at', '<=', now).executeTakeFirst();
      return Number(r.numDeletedRows);
    },
  };
}
