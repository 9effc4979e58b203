import type { Kysely } from 'kysely';
import type { DialectCapabilities } from '../dialect.js';

/**
 * Retention classes (docs/retention.md, docs/classification.md).
 *
 * - `retention_classes`: per tenant, named body retention (`phi-6y`: 2190 days, `marketing`: 30)
 *   that a classification policy can give a message instead of the tenant's `bodies` policy.
 * - `messages.retention_class`: the class the message's classification decision gave it at accept
 *   time (the decision JSON names the rule too); NULL: the tenant's `bodies` policy applies. A
 *   column, not only the JSON, so the purge selects by class in portable SQL.
 */
export async function up(db: Kysely<unknown>, d: DialectCapabilities): Promise<void> {
  await db.schema
    .createTable('retention_classes')
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('max_days', 'integer')
    .addColumn('min_days', 'integer')
    .addColumn('updated_at', d.bigintType, (c) => c.notNull())
    .addPrimaryKeyConstraint('retention_classes_pk', ['tenant_id', 'name'])
    .execute();
  await db.schema.alterTable('messages').addColumn('retention_class', 'text').execute();
  await db.schema.createIndex('messages_retention_class').on('messages').columns(['tenant_id', 'retention_class']).execute();
}
