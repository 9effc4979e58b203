import type { Kysely } from 'kysely';
import type { DialectCapabilities } from '../dialect.js';

/**
 * Engagement (src/content): tracking, A/B experiments, contact lists and their imports.
 *
 * - `tracking_settings`: per tenant, the tracking domain and the streams tracked by default (JSON).
 * - `tracking_marks`: one row per (message, recipient, kind, link) holding when the window of the
 *   last counted open/click ends; a hit inside the window is not counted again (deduplication
 *   that holds across nodes, because the conditional update is atomic).
 * - `experiments`, `experiment_assignments` (which variant each message got; results read the
 *   spine through it), `experiment_flags` (a regression is announced once).
 * - `lists`, `list_members`, `list_imports`, `list_import_findings` (per-row findings, paged).
 */
export async function up(db: Kysely<unknown>, d: DialectCapabilities): Promise<void> {
  const big = d.bigintType;
  await db.schema
    .createTable('tracking_settings')
    .addColumn('tenant_id', 'text', (c) => c.primaryKey())
    .addColumn('domain', 'text', (c) => c.notNull())
    .addColumn('opens_streams', 'text', (c) => c.notNull())
    .addColumn('clicks_streams', 'text', (c) => c.notNull())
    .addColumn('updated_at', big, (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('tracking_marks')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('until_at', big, (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('experiments')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('variants', 'text', (c) => c.notNull())
    .addColumn('metrics', 'text', (c) => c.notNull())
    .addColumn('serve_variant', 'text')
    .addColumn('created_at', big, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('experiments_tenant').on('experiments').columns(['tenant_id', 'id']).execute();
  await db.schema
    .createTable('experiment_assignments')
    .addColumn('message_id', 'text', (c) => c.primaryKey())
    .addColumn('experiment_id', 'text', (c) => c.notNull())
    .addColumn('recipient', 'text', (c) => c.notNull())
    .addColumn('variant', 'text', (c) => c.notNull())
    .addColumn('in_sample', 'integer', (c) => c.notNull())
    .addColumn('created_at', big, (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('experiment_assignments_recipient')
    .on('experiment_assignments')
    .columns(['experiment_id', 'recipient'])
    .execute();
  await db.schema
    .createTable('experiment_flags')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('experiment_id', 'text', (c) => c.notNull())
    .addColumn('at', big, (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('lists')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('created_at', big, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('lists_tenant').on('lists').columns(['tenant_id', 'id']).execute();
  await db.schema
    .createTable('list_members')
    .addColumn('list_id', 'text', (c) => c.notNull())
    .addColumn('address', 'text', (c) => c.notNull())
    .addColumn('fields', 'text', (c) => c.notNull())
    .addColumn('import_id', 'text', (c) => c.notNull())
    .addColumn('created_at', big, (c) => c.notNull())
    .addPrimaryKeyConstraint('list_members_pk', ['list_id', 'address'])
    .execute();
  await db.schema
    .createTable('list_imports')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('list_id', 'text', (c) => c.notNull())
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('created_at', big, (c) => c.notNull())
    .addColumn('rows', big, (c) => c.notNull())
    .addColumn('added', big, (c) => c.notNull())
    .addColumn('summary', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('list_imports_list').on('list_imports').columns(['list_id', 'created_at']).execute();
  await db.schema
    .createTable('list_import_findings')
    .addColumn('import_id', 'text', (c) => c.notNull())
    .addColumn('row', big, (c) => c.notNull())
    .addColumn('address', 'text', (c) => c.notNull())
    .addColumn('findings', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('list_import_findings_pk', ['import_id', 'row'])
    .execute();
}
