import type { Kysely } from 'kysely';
import type { DialectCapabilities } from '../dialect.js';

/**
 * Fixed-window counters shared by every node of a cluster: per-destination message rates
 * (delivery's shaper) hold across nodes when they count here. A row lives one window; expired
 * rows are purged by the counter itself.
 */
export async function up(db: Kysely<unknown>, d: DialectCapabilities): Promise<void> {
  const big = d.bigintType;
  await db.schema
    .createTable('rate_windows')
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('window_start', big, (c) => c.notNull())
    .addColumn('count', big, (c) => c.notNull())
    .addColumn('expires_at', big, (c) => c.notNull())
    .addPrimaryKeyConstraint('rate_windows_pk', ['key', 'window_start'])
    .execute();
  await db.schema.createIndex('rate_windows_expires_at').on('rate_windows').column('expires_at').execute();
}
