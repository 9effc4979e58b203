import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { operatorName } from '../../src/audit/index.js';
import { type CliDeps, runCli } from '../../src/cli/index.js';
import { forEachDialect, freshPostgresUrl, tempDir } from '../support/dialects.js';
import { runPostwarden } from './postwarden-process.js';

/** `postwarden suppressions …` in-process (the store is real; only stdout/stderr are captured). */
async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = { out: '', err: '' };
  const deps: CliDeps = {
    env: { POSTWARDEN_LOG_LEVEL: 'silent' },
    stdout: (s) => (io.out += s),
    stderr: (s) => (io.err += s),
    createPlatform: async () => {
      throw new Error('not used');
    },
    onSignal: () => () => undefined,
    exit: () => undefined,
  };
  const code = await runCli(args, deps);
  return { code, ...io };
}
const ok = async (args: string[]) => {
  const r = await cli(args);
  assert.equal(r.code, 0, `${args.join(' ')}: ${r.err}`);
  return r;
};
const json = async (args: string[]) => JSON.parse((await ok([...args, '--json'])).out);

forEachDialect(
  'export, wipe and import restore the identical list through the CLI, as CSV and as JSON',
  async (t, dialect) => {
    const store = dialect === 'postgres' ? ['--database-url', await freshPostgresUrl(t)] : ['--data-dir', tempDir(t)];
    const dir = tempDir(t);
    const tenant = (await json([...store, 'tenants', 'create', 'Acme'])).id as string;
    const list = ['--tenant', tenant];
    await ok([...store, 'suppressions', 'add', 'a@example.net', 'B@example.net', ...list, '--reason', 'complaint', '--source', 'ticket,7']);
    await ok([...store, 'suppressions', 'add', 'c@example.net', ...list, '--domain', 'example.com', '--stream', 'marketing']);
    await ok([...store, 'suppressions', 'add', 'g@example.net', '--global']);
    const original = (await json([...store, 'suppressions', 'export', ...list])).entries;
    assert.deepEqual(original.map((e: any) => [e.address, e.scope, e.reason]).sort(), [
      ['a@example.net', 'tenant', 'complaint'],
      ['b@example.net', 'tenant', 'complaint'],
      ['c@example.net', 'identity', 'manual'],
    ]);
    const globalBefore = (await json([...store, 'suppressions', 'export', '--global'])).entries;

    for (const format of ['csv', 'json']) {
      const file = join(dir, `export.${format}`);
      await ok([...store, 'suppressions', 'export', ...list, '--format', format, '--output', file]);
      for (const e of original) await ok([...store, 'suppressions', 'remove', e.address, ...list]);
      assert.deepEqual((await json([...store, 'suppressions', 'list', ...list])).data, []);
      const dry = await json([...store, 'suppressions', 'import', file, ...list, '--dry-run']);
      assert.deepEqual([dry.dry_run, dry.added], [true, 3]);
      assert.deepEqual((await json([...store, 'suppressions', 'list', ...list])).data, []);
      const r = await json([...store, 'suppressions', 'import', file, ...list]);
      assert.equal(r.added, 3);
      assert.deepEqual((await json([...store, 'suppressions', 'export', ...list])).entries, original, format);
    }
    assert.deepEqual((await json([...store, 'suppressions', 'export', '--global'])).entries, globalBefore, 'the global list is untouched');

    const history = (await json([...store, 'suppressions', 'history', ...list, '--address', 'a@example.net'])).data;
    // The host operator as the change history names it (the child runs as this OS user on this host).
    const operator = `operator:${operatorName()}`;
    assert.deepEqual(
      history.map((c: any) => [c.action, c.actor]),
      [
        ['add', operator],
        ['remove', operator],
        ['import', operator],
        ['remove', operator],
        ['import', operator],
      ],
    );
  },
  test,
);

test('a bad import row exits 65 with its row, and nothing is imported', async (t) => {
  const store = ['--data-dir', tempDir(t)];
  const tenant = (await json([...store, 'tenants', 'create', 'Acme'])).id as string;
  const file = join(tempDir(t), 'bad.csv');
  const { writeFileSync } = await import('node:fs');
  writeFileSync(file, 'address,reason\nok@example.net,manual\nnope,manual\n');
  const r = await cli([...store, 'suppressions', 'import', file, '--tenant', tenant]);
  assert.equal(r.code, 65);
  assert.match(r.err, /\/rows\/2\/address: is not a valid email address/);
  assert.deepEqual((await json([...store, 'suppressions', 'list', '--tenant', tenant])).data, []);
  const usage = await cli([...store, 'suppressions', 'list']);
  assert.equal(usage.code, 64);
});

test('postwarden suppressions import --format reads a provider export (SES list-suppressed-destinations)', async (t) => {
  const store = ['--data-dir', tempDir(t)];
  const tenant = (await json([...store, 'tenants', 'create', 'Acme'])).id as string;
  const file = join(import.meta.dirname, '..', 'fixtures', 'suppression', 'ses-list-suppressed-destinations.json');
  const r = await json([...store, 'suppressions', 'import', file, '--format', 'ses', '--tenant', tenant]);
  assert.equal(r.added, 2);
  const list = (await json([...store, 'suppressions', 'list', '--tenant', tenant])).data;
  assert.deepEqual(list.map((e: any) => [e.address, e.reason, e.source]).sort(), [
    ['bounced@example.net', 'hard_bounce', 'ses export'],
    ['complained@example.net', 'complaint', 'ses export'],
  ]);
});

test('the installed command lists suppressions with human output', async (t) => {
  const store = ['--data-dir', tempDir(t)];
  const tenant = (await json([...store, 'tenants', 'create', 'Acme'])).id as string;
  await ok([...store, 'suppressions', 'add', 'a@example.net', '--tenant', tenant]);
  const r = await runPostwarden([...store, 'suppressions', 'list', '--tenant', tenant]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^ADDRESS\s+SCOPE\s+DOMAIN\s+STREAM\s+REASON\s+SOURCE\s+SINCE\na@example\.net\s+tenant\s+manual\s+cli\s/);
});
