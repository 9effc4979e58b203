import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { Kysely, sql } from 'kysely';
import { sqliteDialect } from '../../src/store/dialect.js';
import { tempDir } from '../support/dialects.js';

/**
 * SQLite's commit hooks (store/commit-hooks.ts): work registered in a transaction runs once it has
 * committed, before anything else uses the connection; never after a rollback; and a hook that
 * throws does not turn a committed transaction into a failed one.
 */
test('hooks run after COMMIT and before the next use of the connection, never after a rollback', async (t) => {
  const caps = sqliteDialect(join(tempDir(t), 'hooks.db'));
  const db = new Kysely<{ t: { n: number } }>({ dialect: caps.kysely });
  t.after(() => db.destroy());
  await sql`create table t (n integer)`.execute(db);
  const seen: string[] = [];

  // A reader queued while the transaction runs gets the connection only after the hook ran.
  let reader: Promise<void> | undefined;
  await db.transaction().execute(async (tx) => {
    await tx.insertInto('t').values({ n: 1 }).execute();
    caps.onCommit!(() => seen.push('hook'));
    reader = db
      .selectFrom('t')
      .selectAll()
      .execute()
      .then((rows) => void seen.push(`read ${rows.length}`));
  });
  await reader;
  assert.deepEqual(seen, ['hook', 'read 1']);

  await assert.rejects(
    db.transaction().execute(async (tx) => {
      await tx.insertInto('t').values({ n: 2 }).execute();
      caps.onCommit!(() => seen.push('rolled back'));
      throw new Error('roll back');
    }),
    /roll back/,
  );
  await db.transaction().execute(async (tx) => {
    await tx.insertInto('t').values({ n: 3 }).execute();
  });
  assert.deepEqual(seen, ['hook', 'read 1']);

  const committed = await db.transaction().execute(async (tx) => {
    await tx.insertInto('t').values({ n: 4 }).execute();
    caps.onCommit!(() => {
      throw new Error('a hook failed');
    });
    caps.onCommit!(() => seen.push('after a failed hook'));
    return 'committed';
  });
  assert.equal(committed, 'committed');
  assert.deepEqual(seen, ['hook', 'read 1', 'after a failed hook']);
  const rows = await db.selectFrom('t').select('n').orderBy('n').execute();
  assert.deepEqual(
    rows.map((r) => r.n),
    [1, 3, 4],
  );
});
