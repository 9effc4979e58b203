import { type Kysely, sql } from 'kysely';
import type { DialectCapabilities } from '../dialect.js';

/**
 * Scoped suppression and its history.
 *
 * `suppressions` is rebuilt (SQLite cannot drop an inline unique constraint) with a scope:
 * `global` rows have tenant_id '' (no tenant), `tenant` rows block the address for the whole
 * tenant, `identity` rows for one sending domain and/or stream. "Any" domain or stream is stored
 * as '' rather than NULL because both SQLite and PostgreSQL treat NULLs as distinct in a unique
 * constraint, and uniqueness is what makes an add idempotent. Every existing row is copied as it
 * is, with scope tenant: nothing that was suppressed stops being suppressed.
 *
 * `suppression_changes` is the audit trail: one row per add, repeated add, remove or import, with
 * who did it and the entry before and after (JSON text).
 *
 * The tenant's policy for automatic suppression lives on the tenant (both on by default).
 */
export async function up(db: Kysely<unknown>, d: DialectCapabilities): Promise<void> {
  const big = d.bigintType;
  await db.schema
    .createTable('suppressions_v4')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('scope', 'text', (c) => c.notNull())
    .addColumn('domain', 'text', (c) => c.notNull())
    .addColumn('stream', 'text', (c) => c.notNull())
    .addColumn('address', 'text', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('created_at', big, (c) => c.notNull())
    .addUniqueConstraint('suppressions_scope_address', ['tenant_id', 'scope', 'domain', 'stream', 'address'])
    .execute();
  await sql`insert into suppressions_v4 (id, tenant_id, scope, domain, stream, address, reason, source, created_at)
            select id, tenant_id, 'tenant', '', '', address, reason, source, created_at from suppressions`.execute(db);
  await db.schema.dropTable('suppressions').execute();
  await db.schema.alterTable('suppressions_v4').renameTo('suppressions').execute();
  // Accept's lookup: every entry for a batch's addresses, whatever the scope.
  await db.schema.createIndex('suppressions_address').on('suppressions').columns(['address', 'tenant_id']).execute();

  // `seq` orders the history in the order changes were written (ids made in the same millisecond
  // do not sort by time).
  const changes = db.schema.createTable('suppression_changes');
  await (d.name === 'postgres'
    ? changes.addColumn('seq', 'bigserial', (c) => c.primaryKey())
    : changes.addColumn('seq', 'integer', (c) => c.primaryKey().autoIncrement())
  )
    .addColumn('id', 'text', (c) => c.notNull().unique())
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('address', 'text', (c) => c.notNull())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('reason', 'text')
    .addColumn('source', 'text')
    .addColumn('before', 'text')
    .addColumn('after', 'text')
    .addColumn('at', big, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('suppression_changes_tenant').on('suppression_changes').columns(['tenant_id', 'seq']).execute();

  await db.schema
    .alterTable('tenants')
    .addColumn('suppress_on_hard_bounce', 'integer', (c) => c.notNull().defaultTo(1))
    .execute();
  await db.schema
    .alterTable('tenants')
    .addColumn('suppress_on_complaint', 'integer', (c) => c.notNull().defaultTo(1))
    .execute();
}
