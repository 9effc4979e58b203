import type { Kysely } from 'kysely';
import type { DialectCapabilities } from '../dialect.js';

/**
 * The ledger acting on delivery, and warmup (docs/reputation.md "Holds" and "Warmup").
 *
 * - `reputation_holds`: a rules/pacing.yaml ledger rule paused an identity's stream at a provider
 *   until `until`. Derived from the spine like the other ledger tables (the time is the tipping
 *   event's time plus the rule's recovery), so a rebuild empties and refills it.
 * - `warmup_pools`: per warming egress pool × provider, when it started (the first admission) and
 *   when it graduated, with the numbers that graduated it.
 * - `warmup_usage`: what a warming pool sent to a provider per UTC day (recipients admitted), the
 *   count the daily cap is enforced against. Not derived from the spine: it is delivery's own
 *   admission counter, shared by every delivery node through the store.
 */
export async function up(db: Kysely<unknown>, d: DialectCapabilities): Promise<void> {
  const big = d.bigintType;
  await db.schema
    .createTable('reputation_holds')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('stream', 'text', (c) => c.notNull())
    .addColumn('domain', 'text', (c) => c.notNull())
    .addColumn('pool', 'text', (c) => c.notNull())
    .addColumn('provider', 'text', (c) => c.notNull())
    .addColumn('rule', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('since', big, (c) => c.notNull())
    .addColumn('until', big, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('reputation_holds_until').on('reputation_holds').column('until').execute();
  await db.schema
    .createTable('warmup_pools')
    .addColumn('pool', 'text', (c) => c.notNull())
    .addColumn('provider', 'text', (c) => c.notNull())
    .addColumn('started_at', big, (c) => c.notNull())
    .addColumn('graduated_at', big)
    .addColumn('reason', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('warmup_pools_pk', ['pool', 'provider'])
    .execute();
  await db.schema
    .createTable('warmup_usage')
    .addColumn('pool', 'text', (c) => c.notNull())
    .addColumn('provider', 'text', (c) => c.notNull())
    .addColumn('day', 'integer', (c) => c.notNull())
    .addColumn('sent', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('warmup_usage_pk', ['pool', 'provider', 'day'])
    .execute();
}
