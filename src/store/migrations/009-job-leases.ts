import type { Kysely } from 'kysely';
import type { DialectCapabilities } from '../dialect.js';

/**
 * One lease row per scheduled job (identity schedule, posture monitor, TLS-RPT sender): the node
 * whose lease is current runs the job; the others skip it until the lease lapses. Rows are few and
 * permanent (one per job name).
 */
export async function up(db: Kysely<unknown>, d: DialectCapabilities): Promise<void> {
  await db.schema
    .createTable('job_leases')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('owner', 'text', (c) => c.notNull())
    .addColumn('expires_at', d.bigintType, (c) => c.notNull())
    .execute();
}
