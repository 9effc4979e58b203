import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { Kysely, sql } from 'kysely';
import { sqliteDialect } from '../../src/store/dialect.js';
import { createWalSync, datasyncFile, isWriteSql, walSyncedDialect } from '../../src/store/wal-sync.js';
import { tempDir } from '../support/dialects.js';

/**
 * The store's own flush of SQLite's WAL (src/store/wal-sync.ts): when a write resolves, a flush that
 * began after its commit has ended; while a flush runs, reads and commits go on, and the commits made
 * meanwhile share the next flush.
 * The flush here is a gate the test opens (what the order needs is when it starts and ends); the
 * real fdatasync, seen by strace, is test/accept/power-loss.test.ts.
 */

interface T {
  v: number;
}

function gatedFlush() {
  const log: string[] = [];
  let open: (() => void)[] = [];
  let fail: Error | undefined;
  const wal = createWalSync(async () => {
    log.push('flush');
    await new Promise<void>((go) => open.push(go));
    if (fail) {
      const e = fail;
      fail = undefined;
      throw e;
    }
  });
  return {
    wal,
    log,
    /** Ends the flushes running now. */
    release() {
      for (const go of open) go();
      open = [];
    },
    running: () => open.length,
    failNext(e: Error) {
      fail = e;
    },
  };
}

async function openDb(t: TestContext, gate: ReturnType<typeof gatedFlush>) {
  // process-crash-safe: the plain dialect (synchronous=NORMAL, no flush of its own), wrapped here.
  const caps = sqliteDialect(join(tempDir(t), 'w.db'), { durability: 'process-crash-safe' });
  const db = new Kysely<{ t: T }>({ dialect: walSyncedDialect(caps.kysely, gate.wal) });
  t.after(() => db.destroy());
  const created = sql`create table t (v integer not null)`.execute(db);
  await settle();
  gate.release();
  await created;
  return db;
}

/** Lets pending promise chains and an event-loop turn run. */
const settle = () => new Promise<void>((go) => setTimeout(go, 20));

test('a transaction resolves only after a flush that started after its commit has ended', async (t) => {
  const gate = gatedFlush();
  const db = await openDb(t, gate);
  const flushesBefore = gate.wal.flushes;
  let done = false;
  const tx = db
    .transaction()
    .execute((trx) => trx.insertInto('t').values({ v: 1 }).execute())
    .then(() => {
      done = true;
    });
  await settle();
  assert.equal(gate.wal.flushes, flushesBefore + 1, 'the commit started a flush');
  assert.equal(done, false, 'not resolved while the flush runs');
  // Committed (visible to reads) though not yet answered.
  assert.deepEqual(await db.selectFrom('t').select('v').execute(), [{ v: 1 }]);
  gate.release();
  await tx;
  assert.equal(done, true);
});

test('a write outside a transaction waits for its flush; a read-only transaction flushes nothing', async (t) => {
  const gate = gatedFlush();
  const db = await openDb(t, gate);
  const before = gate.wal.flushes;
  await db.transaction().execute((trx) => trx.selectFrom('t').selectAll().execute());
  await db.selectFrom('t').selectAll().execute();
  assert.equal(gate.wal.flushes, before, 'reads start no flush');
  let done = false;
  const w = db
    .insertInto('t')
    .values({ v: 2 })
    .execute()
    .then(() => {
      done = true;
    });
  await settle();
  assert.equal(done, false);
  assert.equal(gate.wal.flushes, before + 1);
  gate.release();
  await w;
  assert.equal(done, true);
});

test('while a flush runs, reads and commits go on; the commits made meanwhile share the next flush', async (t) => {
  const gate = gatedFlush();
  const db = await openDb(t, gate);
  const before = gate.wal.flushes;
  const resolved: number[] = [];
  const write = (v: number) =>
    db
      .insertInto('t')
      .values({ v })
      .execute()
      .then(() => resolved.push(v));
  const first = write(1);
  await settle();
  assert.equal(gate.running(), 1);
  const second = write(2);
  const third = db
    .transaction()
    .execute((trx) => trx.insertInto('t').values({ v: 3 }).execute())
    .then(() => resolved.push(3));
  await settle();
  assert.deepEqual(
    (await db.selectFrom('t').select('v').orderBy('v').execute()).map((r) => r.v),
    [1, 2, 3],
    'committed and readable while the first flush runs',
  );
  assert.equal(gate.wal.flushes, before + 1, 'one flush at a time');
  assert.deepEqual(resolved, []);
  gate.release();
  await first;
  await settle();
  assert.deepEqual(resolved, [1], 'the first flush began before the later commits: it answers only the first');
  assert.equal(gate.wal.flushes, before + 2, 'the next flush covers both later commits');
  gate.release();
  await Promise.all([second, third]);
  assert.deepEqual(resolved.sort(), [1, 2, 3]);
  assert.equal(gate.wal.flushes, before + 2);
});

test('a failed flush fails its writers and every later write (the disk may have dropped them)', async (t) => {
  const gate = gatedFlush();
  const db = await openDb(t, gate);
  gate.failNext(new Error('EIO: i/o error, fdatasync'));
  const w = db.insertInto('t').values({ v: 1 }).execute();
  await settle();
  gate.release();
  await assert.rejects(w, /EIO/);
  const before = gate.wal.flushes;
  await assert.rejects(db.insertInto('t').values({ v: 2 }).execute(), /EIO/);
  assert.equal(gate.wal.flushes, before, 'no flush is tried again: it could succeed without the lost pages');
  assert.equal((await db.selectFrom('t').selectAll().execute()).length, 2, 'reads go on (the rows are committed, not known durable)');
});

test('which statements count as writes', () => {
  for (const q of ['select 1', '  SELECT * from t', 'with x as (select 1) select * from x', 'begin', 'explain query plan select 1'])
    assert.equal(isWriteSql(q), false, q);
  for (const q of [
    'insert into t values (1)',
    'update t set v = 1',
    'delete from t',
    'with v (a) as (values (1)) update t set v = v.a from v',
    'create table x (a)',
    'pragma wal_checkpoint(truncate)',
    'commit',
  ])
    assert.equal(isWriteSql(q), true, q);
});

test('datasyncFile flushes a real file and treats a missing WAL as nothing to flush', async (t) => {
  const dir = tempDir(t);
  const caps = sqliteDialect(join(dir, 'r.db'), { durability: 'power-loss-safe' });
  assert.ok(caps.walSync, 'power-loss-safe SQLite flushes the WAL itself');
  const db = new Kysely<{ t: T }>({ dialect: caps.kysely });
  t.after(() => db.destroy());
  await sql`create table t (v integer not null)`.execute(db);
  await db.insertInto('t').values({ v: 1 }).execute();
  assert.ok(existsSync(join(dir, 'r.db-wal')));
  assert.ok(caps.walSync.flushes >= 2, `flushes ${caps.walSync.flushes}`);
  await datasyncFile(join(dir, 'absent.db-wal'));
});
