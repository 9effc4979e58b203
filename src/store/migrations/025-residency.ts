import type { Kysely } from 'kysely';
import type { DialectCapabilities } from '../dialect.js';

/**
 * Data residency (docs/residency.md).
 *
 * - `tenants.data_region`: the region the tenant's data is pinned to; null: not pinned (any node).
 * - `recipients.held_reason`: set when a delivery node saw the recipient due and left it for a node
 *   of the tenant's region (`residency: …`); the claim that finally takes it clears it. The row
 *   itself stays queued or deferred: nothing is lost, and no node of another region ever claims it.
 */
export async function up(db: Kysely<unknown>, _d: DialectCapabilities): Promise<void> {
  await db.schema.alterTable('tenants').addColumn('data_region', 'text').execute();
  await db.schema.alterTable('recipients').addColumn('held_reason', 'text').execute();
}
