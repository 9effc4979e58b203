import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { type CliDeps, runCli } from '../../src/cli/index.js';
import { openSqlite } from '../../src/store/index.js';
import { tempDir } from '../support/dialects.js';

/** `postwarden audit verify|export` on a data directory the CLI itself wrote to (CLI actor kind). */
async function cli(args: string[]) {
  const io = { out: '', err: '' };
  const deps: CliDeps = {
    // Checkpoints every 5 entries, so a 12-entry chain has two to check.
    env: { USER: 'operator', POSTWARDEN_AUDIT__CHECKPOINT_EVERY: '5' },
    stdout: (s) => (io.out += s),
    stderr: (s) => (io.err += s),
    createPlatform: () => Promise.reject(new Error('not used')),
    onSignal: () => () => undefined,
    exit: () => undefined,
  };
  return { code: await runCli(args, deps), ...io };
}

/** A data dir with one tenant and a chain of 12 entries (checkpoint every 5: at seq 5 and 10). */
async function seeded(t: TestContext): Promise<{ dir: string; tenant: string; db: string }> {
  const dir = tempDir(t, 'pw-audit-cli-');
  mkdirSync(dir, { recursive: true });
  const env = ['--data-dir', dir];
  const created = await cli([...env, '--json', 'tenants', 'create', 'Acme']);
  assert.equal(created.code, 0, created.err);
  const tenant = JSON.parse(created.out).id as string;
  for (let i = 0; i < 11; i++) {
    const k = await cli([...env, 'keys', 'create', '--tenant', tenant, '--scopes', 'send']);
    assert.equal(k.code, 0, k.err);
  }
  return { dir, tenant, db: join(dir, 'postwarden.db') };
}

function exec(db: string, sql: string): void {
  const c = openSqlite(db, {});
  c.exec(sql);
  c.close();
}

test('a chain the CLI wrote verifies (exit 0), and its entries name the host operator as osuser@host', async (t) => {
  const { dir, tenant } = await seeded(t);
  const ok = await cli(['--data-dir', dir, 'audit', 'verify']);
  assert.equal(ok.code, 0, ok.err);
  assert.match(ok.out, new RegExp(`audit chain ${tenant}: \\d+ entries, \\d+ signed checkpoints, intact`));
  const exported = await cli(['--data-dir', dir, 'audit', 'export', '--tenant', tenant]);
  const lines = exported.out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  const keys = lines.filter((e) => e.action === 'api_key.created');
  assert.equal(keys.length, 11);
  assert.equal(keys[0].actor.kind, 'operator');
  assert.match(keys[0].actor.id, /^.+@.+$/);
});

test('editing one entry in the database makes verify exit non-zero naming it', async (t) => {
  const { dir, tenant, db } = await seeded(t);
  exec(db, `UPDATE audit_entries SET after_json = '{"name":"evil","scopes":["admin"]}' WHERE chain = '${tenant}' AND seq = 4`);
  const r = await cli(['--data-dir', dir, 'audit', 'verify', '--tenant', tenant]);
  assert.equal(r.code, 65);
  assert.match(r.err, new RegExp(`audit chain ${tenant} is broken at seq 4 \\(adt_\\w+\\): hash does not match`));
});

test('deleting one entry makes verify exit non-zero naming the gap', async (t) => {
  const { dir, tenant, db } = await seeded(t);
  exec(db, `DELETE FROM audit_entries WHERE chain = '${tenant}' AND seq = 7`);
  const r = await cli(['--data-dir', dir, 'audit', 'verify']);
  assert.equal(r.code, 65);
  assert.match(r.err, new RegExp(`audit chain ${tenant} is broken at seq 7 \\(adt_\\w+\\): entry seq 7 is missing \\(deleted\\)`));
});

test('deleting the newest entry, or rewriting a checkpoint, is caught too', async (t) => {
  const { dir, tenant, db } = await seeded(t);
  exec(db, `DELETE FROM audit_entries WHERE chain = '${tenant}' AND seq = (SELECT max(seq) FROM audit_entries WHERE chain = '${tenant}')`);
  const r = await cli(['--data-dir', dir, 'audit', 'verify', '--tenant', tenant]);
  assert.equal(r.code, 65);
  assert.match(r.err, /entries after it were deleted/);
  const second = await seeded(t);
  exec(second.db, `UPDATE audit_checkpoints SET signature = replace(signature, substr(signature, 1, 4), 'AAAA') WHERE seq = 5`);
  const s = await cli(['--data-dir', second.dir, 'audit', 'verify']);
  assert.equal(s.code, 65);
  assert.match(s.err, /checkpoint at seq 5: the signature does not verify/);
});
