import type { Kysely } from 'kysely';
import type { DialectCapabilities } from '../dialect.js';

/**
 * The audit log (docs/governance.md):
 * - `audit_entries`: append-only, one hash chain per tenant (`chain` = the tenant id, or `platform`
 *   for actions on no tenant); `(chain, seq)` is unique, so two appenders can never both write seq n.
 * - `audit_chain_heads`: the last seq and hash of each chain. An append updates this row first, so on
 *   PostgreSQL its row lock orders appends to one chain across nodes, and the head also tells a
 *   truncated chain (last rows deleted) from an intact one.
 * - `audit_checkpoints`: every N entries, an Ed25519 signature over (chain, seq, hash).
 * - `audit_signing_keys`: the checkpoint keys, private halves sealed with the node master key.
 */
export async function up(db: Kysely<unknown>, d: DialectCapabilities): Promise<void> {
  const big = d.bigintType;
  await db.schema
    .createTable('audit_entries')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('chain', 'text', (c) => c.notNull())
    .addColumn('seq', big, (c) => c.notNull())
    .addColumn('tenant_id', 'text')
    .addColumn('at', big, (c) => c.notNull())
    .addColumn('actor_kind', 'text', (c) => c.notNull())
    .addColumn('actor_id', 'text', (c) => c.notNull())
    .addColumn('actor_tenant_id', 'text')
    .addColumn('actor_ip', 'text')
    .addColumn('actor_user_agent', 'text')
    .addColumn('actor_key_id', 'text')
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('resource_type', 'text', (c) => c.notNull())
    .addColumn('resource_id', 'text')
    .addColumn('before_json', 'text')
    .addColumn('after_json', 'text')
    .addColumn('reason', 'text')
    .addColumn('prev_hash', 'text', (c) => c.notNull())
    .addColumn('hash', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('audit_entries_chain_seq').on('audit_entries').columns(['chain', 'seq']).unique().execute();
  await db.schema.createIndex('audit_entries_at').on('audit_entries').columns(['chain', 'at']).execute();

  await db.schema
    .createTable('audit_chain_heads')
    .addColumn('chain', 'text', (c) => c.primaryKey())
    .addColumn('seq', big, (c) => c.notNull())
    .addColumn('hash', 'text', (c) => c.notNull())
    .addColumn('updated_at', big, (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('audit_checkpoints')
    .addColumn('chain', 'text', (c) => c.notNull())
    .addColumn('seq', big, (c) => c.notNull())
    .addColumn('hash', 'text', (c) => c.notNull())
    .addColumn('key_id', 'text', (c) => c.notNull())
    .addColumn('signature', 'text', (c) => c.notNull())
    .addColumn('at', big, (c) => c.notNull())
    .addPrimaryKeyConstraint('audit_checkpoints_pk', ['chain', 'seq'])
    .execute();

  await db.schema
    .createTable('audit_signing_keys')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('public_key', 'text', (c) => c.notNull())
    .addColumn('private_sealed', 'text', (c) => c.notNull())
    .addColumn('created_at', big, (c) => c.notNull())
    .execute();
}
