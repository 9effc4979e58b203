import type { Kysely } from 'kysely';
import type { DialectCapabilities } from '../dialect.js';

/**
 * DKIM keys: one row per selector of a domain. The private key is sealed with the node master key
 * (governance `sealSecret`, bound to the row id); the public key is what DNS publishes as `p=`.
 * Keys go when their domain goes (ON DELETE CASCADE): a key without its domain can sign nothing.
 */
export async function up(db: Kysely<unknown>, d: DialectCapabilities): Promise<void> {
  const big = d.bigintType;
  await db.schema
    .createTable('dkim_keys')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
    .addColumn('domain_id', 'text', (c) => c.notNull().references('domains.id').onDelete('cascade'))
    .addColumn('domain', 'text', (c) => c.notNull())
    .addColumn('selector', 'text', (c) => c.notNull())
    .addColumn('algorithm', 'text', (c) => c.notNull())
    .addColumn('private_key', 'text', (c) => c.notNull())
    .addColumn('public_key', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('created_at', big, (c) => c.notNull())
    .addColumn('activated_at', big)
    .addColumn('retired_at', big)
    // RFC 6376 §3.1: a selector names one key within its domain's _domainkey namespace.
    .addUniqueConstraint('dkim_keys_domain_selector', ['domain', 'selector'])
    .execute();
  await db.schema.createIndex('dkim_keys_domain_id').on('dkim_keys').column('domain_id').execute();
  // The signer's lookup: active keys of a From domain and its parents.
  await db.schema.createIndex('dkim_keys_status_domain').on('dkim_keys').columns(['status', 'domain']).execute();
}
