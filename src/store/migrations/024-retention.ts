import type { Kysely } from 'kysely';
import type { DialectCapabilities } from '../dialect.js';

/**
 * Retention, purge, legal hold and erasure (docs/retention.md).
 *
 * - `retention_policies`: per tenant and data class, a maximum (purge after) and a minimum (keep at
 *   least) in days; a class without a row uses the documented default.
 * - `legal_holds`: a hold on a whole tenant, one message, one address (its keyed hash only) or a
 *   time range of accepted messages; `released_at` set when lifted. Held data survives purges and
 *   erasure.
 * - `purge_runs`: one row per run of the purge job with its counts (JSON), so the evidence report and
 *   `postwarden retention status` show the last runs; a run killed midway stays `running` and the
 *   next run marks it `interrupted` (the committed batches stay done).
 * - `erasures`: one row per erasure request with its receipt (JSON); the address only as its hash.
 * - `messages.body_sha256/body_purged_at/body_purge_reason`: after a body goes, the message keeps
 *   its fingerprint and says when and why.
 */
export async function up(db: Kysely<unknown>, d: DialectCapabilities): Promise<void> {
  const big = d.bigintType;
  await db.schema
    .createTable('retention_policies')
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('data_class', 'text', (c) => c.notNull())
    .addColumn('max_days', 'integer')
    .addColumn('min_days', 'integer')
    .addColumn('updated_at', big, (c) => c.notNull())
    .addPrimaryKeyConstraint('retention_policies_pk', ['tenant_id', 'data_class'])
    .execute();
  await db.schema
    .createTable('legal_holds')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('message_id', 'text')
    .addColumn('address_hash', 'text')
    .addColumn('from_at', big)
    .addColumn('until_at', big)
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('created_at', big, (c) => c.notNull())
    .addColumn('released_at', big)
    .execute();
  await db.schema.createIndex('legal_holds_tenant').on('legal_holds').columns(['tenant_id', 'released_at']).execute();
  await db.schema
    .createTable('purge_runs')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('counts', 'text', (c) => c.notNull())
    .addColumn('started_at', big, (c) => c.notNull())
    .addColumn('finished_at', big)
    .execute();
  await db.schema
    .createTable('erasures')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('address_hash', 'text', (c) => c.notNull())
    .addColumn('receipt', 'text', (c) => c.notNull())
    .addColumn('created_at', big, (c) => c.notNull())
    .execute();
  await db.schema.alterTable('messages').addColumn('body_sha256', 'text').execute();
  await db.schema.alterTable('messages').addColumn('body_purged_at', big).execute();
  await db.schema.alterTable('messages').addColumn('body_purge_reason', 'text').execute();
}
