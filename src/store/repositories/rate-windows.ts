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
    /**
     * Adds `n` only if the total stays within `cap`, in one statement, and returns the new total; or
     * null, adding nothing, when it would pass the cap. A refused request never raises the count, so
     * another request at the same moment sees only what was taken (a reserve-then-give-back would
     * show it the refused one's reservation for as long as the give-back takes).
     */
    async take(key: string, windowStart: number, n: number, cap: number, expiresAt: number): Promise<number | null> {
      if (n > cap) return null;
      const row = await db
        .insertInto('rate_windows')
        .values({ key, window_start: windowStart, count: n, expires_at: expiresAt })
        .onConflict((oc) =>
          oc
            .columns(['key', 'window_start'])
            .doUpdateSet({ count: sql`rate_windows.count + ${n}` })
            .where(sql<number>`rate_windows.count + ${n}`, '<=', cap),
        )
        .returning('count')
        .executeTakeFirst();
      return row ? Number(row.count) : null;
    },
    /** The window's count (0 when it has none). */
    async count(key: string, windowStart: number): Promise<number> {
      const row = await db
        .selectFrom('rate_windows')
        .select('count')
        .where('key', '=', key)
        .where('window_start', '=', windowStart)
        .executeTakeFirst();
      return row ? Number(row.count) : 0;
    },
    async purgeExpired(now: number): Promise<number> {
      const r = await db.deleteFrom('rate_windows').where('expires_at', '<=', now).executeTakeFirst();
      return Number(r.numDeletedRows);
    },
  };
}
