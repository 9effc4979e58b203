import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { type CliDeps, runCli } from '../../src/cli/index.js';
import { openSqlite } from '../../src/store/index.js';
import { tempDir } from '../support/dialects.js';
import { startPlatform } from '../support/platform.js';

/** `postwarden backup`: an online copy of the SQLite store while the server runs and writes. */
async function cli(args: string[]) {
  const io = { out: '', err: '' };
  const deps: CliDeps = {
    env: {},
    stdout: (s) => (io.out += s),
    stderr: (s) => (io.err += s),
    createPlatform: () => Promise.reject(new Error('not used')),
    onSignal: () => () => undefined,
    exit: () => undefined,
  };
  return { code: await runCli(args, deps), ...io };
}

test('backup copies the SQLite store while the platform runs and writes, and the copy is whole', async (t) => {
  const p = await startPlatform(t);
  for (let i = 0; i < 20; i++) await p.platform.tenants.createTenant({ name: `before ${i}` });
  // Writers keep committing during the copy: the backup API restarts or copies a consistent snapshot.
  let writing = true;
  const writer = (async () => {
    for (let i = 0; writing && i < 500; i++) await p.platform.tenants.createTenant({ name: `during ${i}` });
  })();
  const file = join(tempDir(t), 'pw.db');
  const r = await cli(['--data-dir', p.config.dataDir, 'backup', file, '--json']);
  writing = false;
  await writer;
  assert.equal(r.code, 0, r.err);
  const out = JSON.parse(r.out);
  assert.equal(out.destination, file);
  assert.ok(out.counts.tenants >= 21, JSON.stringify(out.counts));

  // Opened with the driver the store uses on this Node (store.sqliteDriver auto).
  const copy = openSqlite(file, { readonly: true });
  t.after(() => copy.close());
  assert.deepEqual(copy.prepare('PRAGMA integrity_check').all([]), [{ integrity_check: 'ok' }]);
  assert.deepEqual(copy.prepare('SELECT count(*) AS n FROM tenants').all([]), [{ n: out.counts.tenants }]);
  assert.equal(existsSync(`${file}-wal`), false);
});

test('backup never overwrites a file, refuses on PostgreSQL, and needs the data directory', async (t) => {
  const p = await startPlatform(t, { start: false });
  const file = join(tempDir(t), 'pw.db');
  assert.equal((await cli(['--data-dir', p.config.dataDir, 'backup', file])).code, 0);
  const again = await cli(['--data-dir', p.config.dataDir, 'backup', file]);
  assert.equal(again.code, 73);
  assert.match(again.err, /already exists/);

  const pg = await cli(['--database-url', 'postgres://postgres@127.0.0.1:5432/test', 'backup', join(tempDir(t), 'x.db')]);
  assert.equal(pg.code, 64);
  assert.match(pg.err, /pg_dump/);

  const nowhere = await cli(['--data-dir', join(tempDir(t), 'missing'), 'backup', join(tempDir(t), 'y.db')]);
  assert.equal(nowhere.code, 66);
  assert.match(nowhere.err, /no data directory at/);
});
