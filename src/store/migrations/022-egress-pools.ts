import type { Kysely } from 'kysely';
import type { DialectCapabilities } from '../dialect.js';

/**
 * Egress pools (docs/delivery.md "Egress pools"): every attempt row records the pool it left from
 * and the local source address of its connection, so "which IP sent this" is answerable per
 * attempt. Nullable: rows written before this migration, and attempts that made no connection.
 */
export async function up(db: Kysely<unknown>, _d: DialectCapabilities): Promise<void> {
  await db.schema.alterTable('tls_attempts').addColumn('pool', 'text').execute();
  await db.schema.alterTable('tls_attempts').addColumn('source_address', 'text').execute();
}
