import { type Kysely, sql } from 'kysely';
import type { Database } from '../schema.js';

/** A warming egress pool at a provider (migration 027). */
export interface WarmupPoolRow {
  pool: string;
  provider: string;
  startedAt: number;
  graduatedAt: number | null;
  reason: string;
}

/**
 * Warmup state and daily usage (src/delivery/warmup.ts). `take` is the one atomic step: it adds `n`
 * to a pool's count for the day only when the sum stays within the cap, so two delivery nodes
 * sharing the store never send past a schedule between them.
 */
export function warmupRepository(db: Kysely<Database>) {
  const toRow = (r: {
    pool: string;
    provider: string;
    started_at: number;
    graduated_at: number | null;
    reason: string;
  }): WarmupPoolRow => ({
    pool: r.pool,
    provider: r.provider,
    startedAt: Number(r.started_at),
    graduatedAt: r.graduated_at === null ? null : Number(r.graduated_at),
    reason: r.reason,
  });
  return {
    async get(pool: string, provider: string): Promise<WarmupPoolRow | undefined> {
      const r = await db
        .selectFrom('warmup_pools')
        .selectAll()
        .where('pool', '=', pool)
        .where('provider', '=', provider)
        .executeTakeFirst();
      return r ? toRow(r) : undefined;
    },
    /** Starts a pool's warmup at a provider unless it has started already; returns the row in force. */
    async start(pool: string, provider: string, at: number): Promise<WarmupPoolRow> {
      await db
        .insertInto('warmup_pools')
        .values({ pool, provider, started_at: at, graduated_at: null, reason: '' })
        .onConflict((oc) => oc.columns(['pool', 'provider']).doNothing())
        .execute();
      return (await this.get(pool, provider))!;
    },
    async graduate(pool: string, provider: string, at: number, reason: string): Promise<void> {
      await db
        .updateTable('warmup_pools')
        .set({ graduated_at: at, reason })
        .where('pool', '=', pool)
        .where('provider', '=', provider)
        .where('graduated_at', 'is', null)
        .execute();
    },
    /** Adds `n` to the day's count when it stays within `cap`; false (nothing added) otherwise. */
    async take(o: { pool: string; provider: string; day: number; n: number; cap: number }): Promise<boolean> {
      await db
        .insertInto('warmup_usage')
        .values({ pool: o.pool, provider: o.provider, day: o.day, sent: 0 })
        .onConflict((oc) => oc.columns(['pool', 'provider', 'day']).doNothing())
        .execute();
      const r = await db
        .updateTable('warmup_usage')
        .set({ sent: sql`sent + ${o.n}` })
        .where('pool', '=', o.pool)
        .where('provider', '=', o.provider)
        .where('day', '=', o.day)
        .where(sql<boolean>`sent + ${o.n} <= ${o.cap}`)
        .executeTakeFirst();
      return Number(r.numUpdatedRows) > 0;
    },
    async usage(pool: string, provider: string, day: number): Promise<number> {
      const r = await db
        .selectFrom('warmup_usage')
        .select('sent')
        .where('pool', '=', pool)
        .where('provider', '=', provider)
        .where('day', '=', day)
        .executeTakeFirst();
      return r ? Number(r.sent) : 0;
    },
    async list(): Promise<WarmupPoolRow[]> {
      return (await db.selectFrom('warmup_pools').selectAll().orderBy('pool').orderBy('provider').limit(10_000).execute()).map(toRow);
    },
  };
}
