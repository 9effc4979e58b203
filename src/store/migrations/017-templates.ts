import type { Kysely } from 'kysely';
import type { DialectCapabilities } from '../dialect.js';

/**
 * Templates and preflight (issue 20).
 *
 * `templates` holds one row per template of a tenant (names are unique per tenant) with its draft
 * (JSON text: subject, html, text, partials, locales, inline_css) and which published version is
 * current. `template_versions` holds the published versions: a row is inserted once and never
 * updated (the repository has no update), which is what makes a published version immutable;
 * publishing inserts the next number and makes it current, a rollback only moves `current_version`.
 *
 * `preflight_policies` is the tenant's list of preflight warning codes that refuse a send (422
 * PREFLIGHT_REFUSED) instead of only warning; no row means none refuse.
 *
 * `messages.template` records which template, version and locale a message was rendered from
 * (JSON text; NULL for literal sends).
 */
export async function up(db: Kysely<unknown>, d: DialectCapabilities): Promise<void> {
  const big = d.bigintType;
  await db.schema
    .createTable('templates')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('stream', 'text')
    .addColumn('draft', 'text', (c) => c.notNull())
    .addColumn('current_version', 'integer')
    .addColumn('created_at', big, (c) => c.notNull())
    .addColumn('updated_at', big, (c) => c.notNull())
    .addUniqueConstraint('templates_tenant_name', ['tenant_id', 'name'])
    .execute();
  await db.schema
    .createTable('template_versions')
    .addColumn('template_id', 'text', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('content', 'text', (c) => c.notNull())
    .addColumn('published_at', big, (c) => c.notNull())
    .addPrimaryKeyConstraint('template_versions_pk', ['template_id', 'version'])
    .execute();
  await db.schema
    .createTable('preflight_policies')
    .addColumn('tenant_id', 'text', (c) => c.primaryKey())
    .addColumn('refuse', 'text', (c) => c.notNull())
    .addColumn('updated_at', big, (c) => c.notNull())
    .execute();
  await db.schema.alterTable('messages').addColumn('template', 'text').execute();
  // The cold-lane preflight reads a tenant's recent messages of one stream, newest first.
  await db.schema.createIndex('messages_tenant_stream_created').on('messages').columns(['tenant_id', 'stream', 'created_at']).execute();
}
