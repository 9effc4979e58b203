import type { Kysely } from 'kysely';
import type { DialectCapabilities } from '../dialect.js';

/**
 * The reputation ledger (src/reputation), a consumer of the events spine; every row here is derived
 * from the spine, so `postwarden reputation rebuild` can empty these tables and replay.
 *
 * - `reputation_counts`: one row per (ledger key, resolution, bucket start, metric) holding a count;
 *   windows are sums of buckets. Resolution `5m` serves the 1-hour window, `1h` the 24-hour, 7-day
 *   and baseline windows.
 * - `reputation_keys`: one row per ledger key (tenant, stream, identity, provider) with its state,
 *   reason and lifetime deliveries (for `warming`).
 * - `reputation_context`: what later events of a message or recipient need and do not carry (the
 *   stream and identity from `message.accepted`, the provider and pool of the last attempt).
 * - `reputation_progress`: the spine cursor the ledger has applied, written in the same transaction as
 *   the counts, so a batch handed over twice is counted once.
 * - `tenant_sending_limits` (accept, not the ledger): per-tenant quotas, sending windows and
 *   recipient-risk settings, as one JSON document per tenant.
 */
export async function up(db: Kysely<unknown>, d: DialectCapabilities): Promise<void> {
  const big = d.bigintType;
  await db.schema
    .createTable('reputation_counts')
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('res', 'text', (c) => c.notNull())
    .addColumn('bucket', big, (c) => c.notNull())
    .addColumn('metric', 'text', (c) => c.notNull())
    .addColumn('n', big, (c) => c.notNull())
    .addPrimaryKeyConstraint('reputation_counts_pk', ['key', 'res', 'bucket', 'metric'])
    .execute();
  await db.schema
    .createTable('reputation_keys')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('stream', 'text', (c) => c.notNull())
    .addColumn('domain', 'text', (c) => c.notNull())
    .addColumn('selector', 'text', (c) => c.notNull())
    .addColumn('pool', 'text', (c) => c.notNull())
    .addColumn('return_path', 'text', (c) => c.notNull())
    .addColumn('provider', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('since', big, (c) => c.notNull())
    .addColumn('delivered_total', big, (c) => c.notNull())
    .addColumn('updated_at', big, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('reputation_keys_tenant').on('reputation_keys').columns(['tenant_id', 'provider']).execute();
  await db.schema
    .createTable('reputation_context')
    .addColumn('subject', 'text', (c) => c.primaryKey())
    .addColumn('data', 'text', (c) => c.notNull())
    .addColumn('at', big, (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('reputation_progress')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('cursor', big, (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('tenant_sending_limits')
    .addColumn('tenant_id', 'text', (c) => c.primaryKey())
    .addColumn('settings', 'text', (c) => c.notNull())
    .addColumn('updated_at', big, (c) => c.notNull())
    .execute();
}
