import type { Kysely } from 'kysely';
import type { DialectCapabilities } from '../dialect.js';

/**
 * Envelope encryption at rest (docs/encryption.md).
 *
 * - `data_keys`: per tenant, the data keys content is sealed with, stored only wrapped by a
 *   key-encryption key (`provider`, `kek_id`, BYOK `key_ref`). `purpose` 'content' keys rotate
 *   (versions; the highest active one seals new writes); the one 'index' key keys the address hashes
 *   and never rotates, so lookups keep matching. Destroying a tenant's keys (crypto-shredding) nulls
 *   `wrapped` and sets `state` 'destroyed'.
 * - `tenant_kms`: the tenant's own key in the external KMS (BYOK), when it brought one.
 * - `encryption_jobs`: re-encryption and re-wrap runs, with the table and id they reached, so a run
 *   killed midway resumes where it stopped.
 * - `recipients.address_hash`: the keyed hash of the address beside its sealed value.
 */
export async function up(db: Kysely<unknown>, d: DialectCapabilities): Promise<void> {
  const big = d.bigintType;
  await db.schema
    .createTable('data_keys')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('purpose', 'text', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('provider', 'text', (c) => c.notNull())
    .addColumn('key_ref', 'text')
    .addColumn('kek_id', 'text', (c) => c.notNull())
    .addColumn('wrapped', 'text')
    .addColumn('created_at', big, (c) => c.notNull())
    .addColumn('rewrapped_at', big)
    .addColumn('destroyed_at', big)
    .execute();
  await db.schema.createIndex('data_keys_version').on('data_keys').columns(['tenant_id', 'purpose', 'version']).unique().execute();
  await db.schema.createIndex('data_keys_kek').on('data_keys').columns(['kek_id']).execute();
  await db.schema
    .createTable('tenant_kms')
    .addColumn('tenant_id', 'text', (c) => c.primaryKey())
    .addColumn('key_ref', 'text', (c) => c.notNull())
    .addColumn('updated_at', big, (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('encryption_jobs')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('tenant_id', 'text')
    .addColumn('target', 'text', (c) => c.notNull())
    .addColumn('stage', 'text', (c) => c.notNull())
    .addColumn('position', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('done', big, (c) => c.notNull())
    .addColumn('started_at', big, (c) => c.notNull())
    .addColumn('updated_at', big, (c) => c.notNull())
    .execute();
  await db.schema.alterTable('recipients').addColumn('address_hash', 'text').execute();
  await db.schema.createIndex('recipients_address_hash').on('recipients').columns(['tenant_id', 'address_hash']).execute();
}
