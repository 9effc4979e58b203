import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { type TestContext, test } from 'node:test';
import pino from 'pino';
import { loadConfig } from '../../src/config/index.js';
import { createPlatform } from '../../src/platform.js';
import { chooseSqliteDriver, createStore } from '../../src/store/index.js';
import { createPostgresSchema, postgresUrl, tempDir } from '../support/dialects.js';

/**
 * What a 202/250 survives (docs/storage.md, Durability): on SQLite the store flushes the WAL after
 * every commit (src/store/wal-sync.ts) unless the operator chose `process-crash-safe`, and start-up
 * says so; on PostgreSQL start-up warns when the
 * server's synchronous_commit is off. The fsync-before-answer ordering itself is checked under strace
 * in test/accept/power-loss.test.ts.
 */

const FLUSHED = 'synchronous=1, WAL flushed by the store per commit';

test('SQLite commits are power-loss safe by default (the store flushes the WAL per commit)', async (t) => {
  const store = await createStore({ sqliteFile: join(tempDir(t), 'd.db') });
  t.after(() => store.close());
  assert.deepEqual(await store.durability(), { configured: 'power-loss-safe', powerLossSafe: true, setting: FLUSHED });
});

test('process-crash-safe SQLite does not fsync each commit and is reported as not power-loss safe', async (t) => {
  const store = await createStore({ sqliteFile: join(tempDir(t), 'd.db'), durability: 'process-crash-safe' });
  t.after(() => store.close());
  assert.deepEqual(await store.durability(), { configured: 'process-crash-safe', powerLossSafe: false, setting: 'synchronous=1' });
});

/** Creates a platform (not started) and returns what it logged at warn and info level. */
async function startupLog(t: TestContext, store: { url?: string; durability?: 'power-loss-safe' | 'process-crash-safe' }) {
  const dataDir = tempDir(t, 'pw-durability-');
  const lines: Array<{ level: number; msg: string; setting?: string; sqliteDriver?: string }> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      done();
    },
  });
  const config = loadConfig({
    overrides: {
      dataDir,
      sandbox: true,
      store,
      posture: { monitor: false },
      security: { masterKeyFile: join(dataDir, 'master.key') },
    },
  });
  const platform = await createPlatform(config, { log: pino({ level: 'info' }, sink) });
  await platform.stop();
  return lines.filter((l) => /durab|power|synchronous/i.test(`${l.msg} ${l.setting ?? ''}`));
}

test('start-up logs that commits are power-loss safe by default', async (t) => {
  const lines = await startupLog(t, {});
  assert.equal(lines.length, 1);
  assert.equal(lines[0]!.level, 30);
  assert.match(lines[0]!.msg, /power-loss safe/);
  // Which SQLite driver opened the store (docs/deploy.md, SQLite driver).
  assert.equal(lines[0]!.sqliteDriver, chooseSqliteDriver('auto'));
});

test('start-up warns when store.durability is process-crash-safe', async (t) => {
  const lines = await startupLog(t, { durability: 'process-crash-safe' });
  assert.equal(lines.length, 1);
  assert.equal(lines[0]!.level, 40);
  assert.match(lines[0]!.msg, /process-crash-safe.*lost on power loss/);
});

test('PostgreSQL: synchronous_commit is read back, and start-up warns when it is off', {
  skip: !postgresUrl && 'set POSTWARDEN_TEST_DATABASE_URL to run it',
}, async (t) => {
  const schema = await createPostgresSchema();
  t.after(() => schema.drop());
  const on = await createStore({ url: schema.url, poolSize: 1 });
  const reportOn = await on.durability();
  await on.close();
  assert.equal(reportOn.powerLossSafe, true);
  assert.equal(reportOn.setting, 'synchronous_commit=on');

  // The server (or a role, or the URL) may turn it off for our connections.
  const u = new URL(schema.url);
  u.searchParams.set('options', `${u.searchParams.get('options')} -c synchronous_commit=off`);
  const off = await createStore({ url: u.toString(), poolSize: 1 });
  const reportOff = await off.durability();
  await off.close();
  assert.deepEqual(reportOff, { configured: 'power-loss-safe', powerLossSafe: false, setting: 'synchronous_commit=off' });

  const lines = await startupLog(t, { url: u.toString() });
  assert.equal(lines.length, 1);
  assert.equal(lines[0]!.level, 40);
  assert.match(lines[0]!.msg, /synchronous_commit is off/);
});
