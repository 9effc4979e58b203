import type { Kysely } from 'kysely';
import type { DialectCapabilities } from '../dialect.js';

/**
 * Sending identity: a domain's allowed streams and its last DNS verification, when a DKIM key's
 * record was last seen in DNS, the tenant's alignment policy, and each message's identity (return
 * path, expected SPF/DKIM alignment) as accepted. One column per ALTER: SQLite adds one at a time.
 */
export async function up(db: Kysely<unknown>, d: DialectCapabilities): Promise<void> {
  const big = d.bigintType;
  // JSON array of streams; NULL means every stream may use the domain.
  await db.schema.alterTable('domains').addColumn('streams', 'text').execute();
  // JSON of the last verification report (per record: status, found value).
  await db.schema.alterTable('domains').addColumn('verification', 'text').execute();
  await db.schema.alterTable('domains').addColumn('checked_at', big).execute();
  await db.schema.alterTable('domains').addColumn('verified_at', big).execute();
  // What the selector signs for: 'all' or a stream name.
  await db.schema
    .alterTable('dkim_keys')
    .addColumn('purpose', 'text', (c) => c.notNull().defaultTo('all'))
    .execute();
  await db.schema.alterTable('dkim_keys').addColumn('verified_at', big).execute();
  await db.schema
    .alterTable('tenants')
    .addColumn('alignment_policy', 'text', (c) => c.notNull().defaultTo('warn'))
    .execute();
  // JSON: return-path domain and expected alignment, fixed at accept time.
  await db.schema.alterTable('messages').addColumn('identity', 'text').execute();
}
