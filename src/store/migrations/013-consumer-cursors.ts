import type { Kysely } from 'kysely';
import type { DialectCapabilities } from '../dialect.js';

/**
 * One row per durable consumer of the events spine (webhook dispatch, the NATS sink, exporters): the
 * spine cursor up to which it has handled events. A consumer reads `cursor > position` in commit
 * order and moves its row forward only after its handler succeeded, so a restart resumes there.
 */
export async function up(db: Kysely<unknown>, d: DialectCapabilities): Promise<void> {
  await db.schema
    .createTable('consumer_cursors')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('position', d.bigintType, (c) => c.notNull())
    .addColumn('updated_at', d.bigintType, (c) => c.notNull())
    .execute();
}
