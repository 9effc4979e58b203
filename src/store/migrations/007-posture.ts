import type { Kysely } from 'kysely';
import type { DialectCapabilities } from '../dialect.js';

/**
 * DNS posture monitoring: one snapshot per audit run (every query and answer seen, the facts the
 * checks established, the findings), the per-tenant watch list of domains audited besides the
 * managed ones, and per-tenant posture settings (the approved MX servers). Snapshots are history
 * and outlive a domain's removal, so they reference the domain by name, not by foreign key.
 */
export async function up(db: Kysely<unknown>, d: DialectCapabilities): Promise<void> {
  const big = d.bigintType;
  await db.schema
    .createTable('dns_snapshots')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('domain', 'text', (c) => c.notNull())
    .addColumn('taken_at', big, (c) => c.notNull())
    .addColumn('resolver', 'text', (c) => c.notNull())
    .addColumn('records', 'text', (c) => c.notNull())
    .addColumn('facts', 'text', (c) => c.notNull())
    .addColumn('findings', 'text', (c) => c.notNull())
    .execute();
  // History and "latest snapshot" reads: one domain of one tenant, newest first.
  await db.schema
    .createIndex('dns_snapshots_tenant_domain_taken')
    .on('dns_snapshots')
    .columns(['tenant_id', 'domain', 'taken_at'])
    .execute();
  await db.schema
    .createTable('dns_watch')
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('domain', 'text', (c) => c.notNull())
    .addColumn('created_at', big, (c) => c.notNull())
    .addPrimaryKeyConstraint('dns_watch_pk', ['tenant_id', 'domain'])
    .execute();
  await db.schema
    .createTable('posture_settings')
    .addColumn('tenant_id', 'text', (c) => c.primaryKey().references('tenants.id'))
    .addColumn('approved_mx', 'text', (c) => c.notNull())
    .addColumn('updated_at', big, (c) => c.notNull())
    .execute();
}
