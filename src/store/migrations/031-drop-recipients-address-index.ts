import type { Kysely } from 'kysely';

/**
 * Drops `recipients_tenant_address` (migration 016), which no query used: the recipient search
 * compares `lower(address)` or the keyed hash (the query plan reads recipients by `message_id`), and
 * since encryption at rest (migration 023) the column holds ciphertext, so its index keys are random.
 * A random key is an insert into a random leaf page, and on SQLite every dirty page is written at the
 * commit's fsync: with sealed addresses the index roughly doubled the time to insert recipients
 * (20,000 rows in 100-row transactions, synchronous = FULL, on a loaded machine: 1.7–2.5 s with it,
 * 0.95–1.2 s without).
 * (`recipients_address_hash` went the same way in migration 032.)
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('recipients_tenant_address').ifExists().execute();
}
