import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { openSqlite } from '../../src/store/index.js';
import { runPostwarden, spawnPostwarden } from '../cli/postwarden-process.js';
import { tempDir } from '../support/dialects.js';
import { assertReadable, openEncryptedStore, type Seeded, seed } from './seed.js';

/**
 * Issue #18, Done 2: master key rotation and tenant key rotation each survive a kill -9 midway (the
 * real CLI in a child process, killed once it has committed a batch) and finish when run again,
 * with every record readable.
 */
async function killAfterFirstBatch(t: TestContext, args: string[]): Promise<void> {
  const run = spawnPostwarden(args);
  t.after(() => run.child.kill('SIGKILL'));
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && !/ done\n/.test(run.stderr()) && run.child.exitCode === null) await new Promise((r) => setTimeout(r, 10));
  assert.equal(run.child.exitCode, null, `the command finished before it could be killed: ${run.stderr()}`);
  run.child.kill('SIGKILL');
  await run.exited;
}

function jobs(dir: string): { kind: string; state: string; done: number }[] {
  const db = openSqlite(`${dir}/postwarden.db`, { readonly: true });
  try {
    return db.prepare('select kind, state, done from encryption_jobs order by id').all([]) as {
      kind: string;
      state: string;
      done: number;
    }[];
  } finally {
    db.close();
  }
}

async function seeded(dir: string, tenants: number, perTenant: number): Promise<Seeded[]> {
  const store = await openEncryptedStore(dir);
  const rows: Seeded[] = [];
  for (let i = 0; i < tenants; i++) rows.push(...(await seed(store, `ten_T${String(i).padStart(3, '0')}`, perTenant)));
  await store.close();
  return rows;
}

test('a master key rotation killed with -9 midway finishes when run again, every record readable', async (t) => {
  const dir = tempDir(t);
  const rows = await seeded(dir, 30, 1);
  const args = ['--data-dir', dir, 'encryption', 'rotate-master', '--batch-size', '2', '--pause-ms', '50'];
  await killAfterFirstBatch(t, args);
  const [midway] = jobs(dir);
  assert.equal(midway?.state, 'running');
  assert.ok(midway.done > 0 && midway.done < 60, `re-wrapped ${midway.done} of 60 keys before the kill`);
  const again = await runPostwarden([...args.slice(0, 4), '--json']);
  assert.equal(again.code, 0, again.stderr);
  const out = JSON.parse(again.stdout) as { kek_id: string; resumed: boolean; other_keks: unknown[] };
  assert.equal(out.resumed, true);
  assert.deepEqual(out.other_keks, []);
  assert.deepEqual(
    jobs(dir).map((j) => j.state),
    ['done'],
  );
  const store = await openEncryptedStore(dir);
  t.after(() => store.close());
  assert.deepEqual(await store.encryption.keksInUse(), [{ kekId: out.kek_id, keys: 60 }]);
  await assertReadable(store, rows);
});

test('a tenant key rotation killed with -9 midway finishes with `encryption run`, every record readable', async (t) => {
  const dir = tempDir(t);
  const rows = await seeded(dir, 1, 40);
  await killAfterFirstBatch(t, [
    '--data-dir',
    dir,
    'encryption',
    'rotate-tenant',
    '--tenant',
    'ten_T000',
    '--batch-size',
    '3',
    '--pause-ms',
    '50',
  ]);
  const [midway] = jobs(dir);
  assert.equal(midway?.state, 'running');
  const again = await runPostwarden(['--data-dir', dir, 'encryption', 'run']);
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(
    jobs(dir).map((j) => j.state),
    ['done'],
  );
  const store = await openEncryptedStore(dir);
  t.after(() => store.close());
  await assertReadable(store, rows);
  const db = openSqlite(`${dir}/postwarden.db`, { readonly: true });
  t.after(() => db.close());
  const keys = db
    .prepare("select id, state from data_keys where tenant_id = 'ten_T000' and purpose = 'content' order by version")
    .all([]) as { id: string; state: string }[];
  assert.deepEqual(
    keys.map((k) => k.state),
    ['retired', 'active'],
  );
  const stale = db.prepare('select count(*) as n from messages where subject not like ?').all([`pwe1:${keys[1]!.id}:%`]) as { n: number }[];
  assert.equal(stale[0]?.n, 0, 'every subject moved to the new key');
});
