import type { Kysely } from 'kysely';

/**
 * Indexes for the dashboard's reads (docs/dashboard.md): message search by recipient and time,
 * outcome windows by time (overview, provider health, SLOs) and a recipient's outcome events. Each
 * read would otherwise scan the whole table it filters.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.createIndex('messages_tenant_created').on('messages').columns(['tenant_id', 'created_at']).execute();
  await db.schema.createIndex('recipients_tenant_address').on('recipients').columns(['tenant_id', 'address']).execute();
  await db.schema.createIndex('recipients_created').on('recipients').columns(['created_at']).execute();
  await db.schema.createIndex('events_at_type').on('events').columns(['at', 'type']).execute();
  await db.schema.createIndex('events_recipient').on('events').columns(['recipient_id', 'type']).execute();
}
