import type { Kysely } from 'kysely';

/**
 * Drops `recipients_address_hash` (migration 023), which no lookup used: the message search reads
 * recipients by `message_id` (its EXISTS is per message; EXPLAIN QUERY PLAN: `recipients_message`),
 * and erasure and re-encryption used it only for its `tenant_id` prefix, to scan a tenant's rows.
 * Its second column is a keyed hash, so each recipient's entry went into a random leaf page, and on
 * SQLite every page a transaction dirties is written to the WAL at its commit's fsync: with
 * encryption on, commits took 128–147 ms per 1,000 delivered messages without sealing and
 * 166–227 with it (bench deliver, 20,000 messages × 3, 2026-12-07), the largest part of
 * encryption's cost in the SQLite statements. With encryption off the column is NULL and the index
 * cost nothing, so it was a cost of encryption alone.
 *
 * Exact-address lookups (erasure) now compare the keyed hash in a scan of the recipients; an index
 * that would serve them must be a deliberate choice with its write cost measured.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('recipients_address_hash').ifExists().execute();
}
