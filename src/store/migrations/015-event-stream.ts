import type { Kysely } from 'kysely';
import type { DialectCapabilities } from '../dialect.js';

/**
 * The event contract: each event records the schema version of its type's payload it was written
 * with (src/core/event-payloads.ts). Events written before the contract existed are version 1.
 */
export async function up(db: Kysely<unknown>, _d: DialectCapabilities): Promise<void> {
  await db.schema
    .alterTable('events')
    .addColumn('schema_version', 'integer', (c) => c.notNull().defaultTo(1))
    .execute();
}
