import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';

/** Where each durable consumer of the spine stands (migration 013). See src/events/consumer.ts. */
export function consumerCursorsRepository(db: Kysely<Database>) {
  return {
    /** The consumer's position, or undefined for a consumer that never ran. */
    async get(name: string): Promise<number | undefined> {
      const row = await db.selectFrom('consumer_cursors').select('position').where('name', '=', name).executeTakeFirst();
      return row ? Number(row.position) : undefined;
    },
    /** Creates the row at `position` unless it exists; answers the position that holds afterwards. */
    async init(name: string, position: number, now: number): Promise<number> {
      await db
        .insertInto('consumer_cursors')
        .values({ name, position, updated_at: now })
        .onConflict((oc) => oc.column('name').doNothing())
        .execute();
      return (await this.get(name)) ?? position;
    },
    /**
     * Moves the position forward, never back: a node that lost its lease mid-batch and finishes
     * late cannot rewind what the new holder has already handled.
     */
    async advance(name: string, position: number, now: number): Promise<void> {
      await db
        .insertInto('consumer_cursors')
        .values({ name, position, updated_at: now })
        .onConflict((oc) => oc.column('name').doUpdateSet({ position, updated_at: now }).where('consumer_cursors.position', '<', position))
        .execute();
    },
    /** Sets the position (an operator rewinding a consumer to re-publish). */
    async set(name: string, position: number, now: number): Promise<void> {
      await db
        .insertInto('consumer_cursors')
        .values({ name, position, updated_at: now })
        .onConflict((oc) => oc.column('name').doUpdateSet({ position, updated_at: now }))
        .execute();
    },
  };
}
