import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { Kysely, sql } from 'kysely';
import { startCheckpointThread } from '../../src/store/checkpoints.js';
import { sqliteDialect } from '../../src/store/dialect.js';
import { openSqlite } from '../../src/store/sqlite-driver.js';
import { tempDir } from '../support/dialects.js';

/**
 * WAL checkpoints in their own thread (src/store/checkpoints.ts): the thread copies the WAL into the
 * database file while the main connection only writes, the main connection's own checkpoint waits
 * far behind as a safety net, and comes back to SQLite's default if the thread stops. On close the
 * thread's connection goes first, so SQLite removes the WAL with the main one.
 */

interface T {
  id: number;
  pad: string;
}

const waitFor = async (cond: () => boolean, ms = 10_000) => {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
};

async function open(t: TestContext, file: string) {
  const caps = sqliteDialect(file, { durability: 'process-crash-safe', checkpoints: 'thread' });
  const db = new Kysely<{ t: T }>({ dialect: caps.kysely });
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await caps.close?.();
    await db.destroy();
  };
  t.after(close);
  return { caps, db, close };
}

const autocheckpoint = async (db: Kysely<{ t: T }>) =>
  Number(Object.values((await sql`pragma wal_autocheckpoint`.execute(db)).rows[0] as object)[0]);

test('the thread checkpoints what the main connection writes; the main one only past its fallback', async (t) => {
  const file = join(tempDir(t), 'c.db');
  const { caps, db, close } = await open(t, file);
  assert.ok(caps.checkpoints, 'a file in WAL mode gets the thread');
  assert.equal(await autocheckpoint(db), 4000);
  await sql`create table t (id integer primary key, pad text not null)`.execute(db);
  // About 1,500 pages of WAL: past SQLite's own threshold (1,000), below the fallback (4,000).
  for (let i = 0; i < 300; i++) {
    await db
      .insertInto('t')
      .values(Array.from({ length: 10 }, (_, j) => ({ id: i * 10 + j, pad: 'x'.repeat(1500) })))
      .execute();
  }
  await waitFor(() => caps.checkpoints!.stats().pages > 1000);
  assert.equal(caps.checkpoints!.stats().failures, 0);
  // What the thread copied is in the database file itself, not only in the WAL.
  assert.ok(statSync(file).size > 3_000_000, `database file ${statSync(file).size} bytes`);
  await close();
  assert.equal(existsSync(`${file}-wal`), false, 'the main connection closed last and removed the WAL');
  const again = openSqlite(file);
  assert.deepEqual(again.prepare('select count(*) as n from t').all([]), [{ n: 3000 }]);
  again.close();
});

test('a thread that stops gives checkpoints back to the main connection, with a warning', async (t) => {
  const file = join(tempDir(t), 'd.db');
  const main = openSqlite(file);
  main.exec('PRAGMA journal_mode = WAL');
  t.after(() => main.close());
  const warnings: string[] = [];
  const thread = startCheckpointThread({
    file,
    main,
    log: { warn: (_o, msg) => warnings.push(msg) },
    // A thread that dies at once, as one that hit its heap cap would.
    spawnWorker: () => new Worker('process.exit(1)', { eval: true }),
  });
  const pragma = () => Object.values(main.prepare('pragma wal_autocheckpoint').all([])[0] as object)[0];
  assert.equal(pragma(), 4000);
  await waitFor(() => pragma() === 1000);
  assert.match(warnings.join('\n'), /checkpoints run inline again/);
  await thread.close();
});

test('inline (the default, and stores in short-lived processes): no thread, SQLite checkpoints as usual', async (t) => {
  const caps = sqliteDialect(join(tempDir(t), 'e.db'), { durability: 'process-crash-safe' });
  const db = new Kysely<{ t: T }>({ dialect: caps.kysely });
  t.after(() => db.destroy());
  assert.equal(caps.checkpoints, undefined);
  assert.equal(await autocheckpoint(db), 1000);
});
