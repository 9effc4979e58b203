import { type Kysely, sql } from 'kysely';
import type { DialectCapabilities } from '../dialect.js';

/**
 * A webhook delivery under a lease keeps its state (queued or retry); the lease is its owner and
 * expiry alone, which no index holds. Until now a claim set `state = 'in_flight'`, and `state` leads
 * the due index, so every claim rewrote the row's index entries: on SQLite the due index's pages,
 * on PostgreSQL a new row version with an entry in each of the table's four indexes (no HOT update
 * is possible when an indexed column changes). A claim now writes the lease columns only: a HOT
 * update on PostgreSQL when the page has room, which the fill factor leaves (half of each page
 * free at insert, so a claim's new version lands beside the old one), and no index page on SQLite.
 *
 * Rows in flight at the upgrade keep their lease; their state becomes what it was before the claim.
 */
export async function up(db: Kysely<unknown>, d: DialectCapabilities): Promise<void> {
  await sql`update webhook_deliveries set state = case when first_failed_at is null then 'queued' else 'retry' end where state = 'in_flight'`.execute(
    db,
  );
  if (d.name === 'postgres') await sql`alter table webhook_deliveries set (fillfactor = 50)`.execute(db);
}
