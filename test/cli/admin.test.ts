import assert from 'node:assert/strict';
import { test } from 'node:test';
import { forEachDialect, freshPostgresUrl, tempDir } from '../support/dialects.js';
import { json, runPostwarden } from './postwarden-process.js';

/** The admin commands work on the store directly, as a bootstrap before (or beside) a server. */

forEachDialect(
  'tenants create, keys create and domains add bootstrap a tenant that the list commands then show',
  async (t, dialect) => {
    const store = dialect === 'postgres' ? ['--database-url', await freshPostgresUrl(t)] : ['--data-dir', tempDir(t)];

    const tenant = json(await runPostwarden([...store, 'tenants', 'create', 'Acme Mail', '--json']));
    assert.match(tenant.id, /^ten_[0-9A-Z]{26}$/);
    assert.deepEqual({ name: tenant.name, sandbox: tenant.sandbox }, { name: 'Acme Mail', sandbox: false });
    assert.ok(!Number.isNaN(Date.parse(tenant.created_at)));

    const key = json(
      await runPostwarden([...store, 'keys', 'create', '--tenant', tenant.id, '--scopes', 'send,read', '--name', 'ci', '--json']),
    );
    assert.match(key.secret, /^pw_[A-Za-z0-9_-]{32}$/);
    assert.deepEqual(
      { tenant: key.tenant_id, scopes: key.scopes, name: key.name },
      { tenant: tenant.id, scopes: ['send', 'read'], name: 'ci' },
    );

    const domain = json(await runPostwarden([...store, 'domains', 'add', 'Mail.Example.COM', '--tenant', tenant.id, '--json']));
    assert.equal(domain.name, 'mail.example.com');

    const keys = json(await runPostwarden([...store, 'keys', 'list', '--tenant', tenant.id, '--json']));
    assert.deepEqual(
      keys.data.map((k: any) => k.id),
      [key.id],
    );
    assert.equal(JSON.stringify(keys).includes(key.secret), false, 'a listed key never shows its secret');
  },
  test,
);

test('a key is revoked by id, and list shows when', async (t) => {
  const store = ['--data-dir', tempDir(t)];
  const tenant = json(await runPostwarden([...store, 'tenants', 'create', 'Acme', '--sandbox', '--json']));
  assert.equal(tenant.sandbox, true);
  const key = json(await runPostwarden([...store, 'keys', 'create', '--tenant', tenant.id, '--scopes', 'admin', '--json']));
  const revoked = await runPostwarden([...store, 'keys', 'revoke', key.id, '--tenant', tenant.id]);
  assert.equal(revoked.code, 0, revoked.stderr);
  assert.match(revoked.stdout, new RegExp(`Revoked key ${key.id}`));
  const keys = json(await runPostwarden([...store, 'keys', 'list', '--tenant', tenant.id, '--json']));
  assert.ok(!Number.isNaN(Date.parse(keys.data[0].revoked_at)));
});

test('a bad scope exits 65 (EX_DATAERR) and prints the field path', async (t) => {
  const store = ['--data-dir', tempDir(t)];
  const tenant = json(await runPostwarden([...store, 'tenants', 'create', 'Acme', '--json']));
  const human = await runPostwarden([...store, 'keys', 'create', '--tenant', tenant.id, '--scopes', 'send,sudo']);
  assert.equal(human.code, 65);
  assert.equal(human.stdout, '');
  assert.match(human.stderr, /^error: .+\n {2}\/scopes: unknown scope\(s\) sudo/);

  const machine = await runPostwarden([...store, 'keys', 'create', '--tenant', tenant.id, '--scopes', 'sudo', '--json']);
  assert.equal(machine.code, 65);
  const problem = JSON.parse(machine.stderr);
  assert.equal(problem.code, 'VALIDATION_FAILED');
  assert.deepEqual(
    problem.errors.map((e: any) => e.path),
    ['/scopes'],
  );
});

test('an unknown POSTWARDEN_ variable exits 78 (EX_CONFIG) naming it', async (t) => {
  const r = await runPostwarden(['--data-dir', tempDir(t), 'tenants', 'list'], { env: { POSTWARDEN_BOGUS: '1' } });
  assert.equal(r.code, 78);
  assert.match(r.stderr, /^error: invalid configuration\n {2}env:POSTWARDEN_BOGUS: /);
});

test('a --database-url that is not a postgres:// URL exits 78 (EX_CONFIG) naming the setting and what it accepts', async (t) => {
  for (const url of ['not-a-url', 'mysql://root@127.0.0.1/mail']) {
    const r = await runPostwarden(['--data-dir', tempDir(t), '--database-url', url, 'tenants', 'list']);
    assert.equal(r.code, 78, r.stderr);
    assert.match(r.stderr, /^error: invalid configuration\n {2}\/store\/url: .*postgres:\/\/ or postgresql:\/\/ URL/);
  }
});

test('a PostgreSQL server that does not answer exits 75 (EX_TEMPFAIL) naming the server and store.url', async (t) => {
  const r = await runPostwarden(['--data-dir', tempDir(t), '--database-url', 'postgres://postgres@127.0.0.1:1/test', 'tenants', 'list']);
  assert.equal(r.code, 75, r.stderr);
  assert.match(r.stderr, /^error: cannot reach the PostgreSQL server at 127\.0\.0\.1:1 \(store\.url\): connect ECONNREFUSED/);
});

test('a tenant that does not exist exits 66 (EX_NOINPUT)', async (t) => {
  const r = await runPostwarden(['--data-dir', tempDir(t), 'domains', 'add', 'example.com', '--tenant', 'ten_01M83VA8V97NDQNK801FRZ3GKF']);
  assert.equal(r.code, 66);
  assert.match(r.stderr, /^error: tenant ten_01M83VA8V97NDQNK801FRZ3GKF does not exist\n$/);
});

test('adding a domain that is already registered exits 73 and names the field', async (t) => {
  const store = ['--data-dir', tempDir(t)];
  const tenant = json(await runPostwarden([...store, 'tenants', 'create', 'Acme', '--json']));
  assert.equal((await runPostwarden([...store, 'domains', 'add', 'example.com', '--tenant', tenant.id])).code, 0);
  const again = await runPostwarden([...store, 'domains', 'add', 'EXAMPLE.com', '--tenant', tenant.id]);
  assert.equal(again.code, 73);
  assert.match(again.stderr, / {2}\/name: is already registered/);
});

test('a usage error exits 64 (EX_USAGE) with one error line, as JSON under --json', async () => {
  const human = await runPostwarden(['keys', 'create', '--scopes', 'send']);
  assert.equal(human.code, 64);
  assert.equal(human.stderr, "error: required option '--tenant <id>' not specified\n");
  const machine = await runPostwarden(['--json', 'serve', '--http-port', '70000']);
  assert.equal(machine.code, 64);
  assert.equal(JSON.parse(machine.stderr).code, 'USAGE');
  assert.equal(machine.stdout, '');
});
