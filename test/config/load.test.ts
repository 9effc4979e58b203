import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/index.js';
import { isPostwardenError } from '../../src/core/index.js';

function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    assert.ok(isPostwardenError(e) && e.code === 'CONFIG_INVALID', String(e));
    return (e.details.errors ?? []).map((x) => `${x.path} ${x.message}`);
  }
  throw new Error('expected CONFIG_INVALID');
}

test('defaults are safe and local', () => {
  const c = loadConfig();
  assert.equal(c.dataDir, './data');
  assert.equal(c.server.host, '127.0.0.1');
  assert.equal(c.store.url, '');
  assert.equal(c.sandbox, false);
});

test('file < environment < flags, with nested and short environment names', () => {
  const c = loadConfig({
    fileText: 'server:\n  httpPort: 9000\n  smtpPort: 9001\ndelivery:\n  maxAgeHours: 12\n',
    env: {
      POSTWARDEN_SERVER__SMTP_PORT: '9101',
      POSTWARDEN_HTTP_PORT: '9100',
      DATABASE_URL: 'postgres://x/y',
      POSTWARDEN_DNS_SERVER: '127.0.0.1:53,[::1]:53',
      POSTWARDEN_SANDBOX: 'yes',
      POSTWARDEN_TEST_DATABASE_URL: 'ignored',
      POSTWARDEN_API_KEY: 'ignored',
    },
    overrides: { server: { httpPort: 9200 } },
  });
  assert.equal(c.server.httpPort, 9200);
  assert.equal(c.server.smtpPort, 9101);
  assert.equal(c.delivery.maxAgeHours, 12);
  assert.equal(c.store.url, 'postgres://x/y');
  assert.deepEqual(c.dns.servers, ['127.0.0.1:53', '[::1]:53']);
  assert.equal(c.sandbox, true);
});

test('every bad key and value is listed by path at once', () => {
  const list = problems(() =>
    loadConfig({
      fileText: 'server:\n  httpPort: 70000\n  colour: blue\n',
      env: { POSTWARDEN_DELIVERY__MAX_AGE_HOURS: 'soon', POSTWARDEN_BOGUS: '1' },
    }),
  );
  assert.ok(
    list.some((l) => l.startsWith('/server/httpPort')),
    list.join('; '),
  );
  assert.ok(
    list.some((l) => l.startsWith('/server/colour') && l.includes('not a known setting')),
    list.join('; '),
  );
  assert.ok(
    list.some((l) => l.startsWith('/delivery/maxAgeHours')),
    list.join('; '),
  );
  assert.ok(
    list.some((l) => l.startsWith('env:POSTWARDEN_BOGUS')),
    list.join('; '),
  );
});

test('a config file that is not YAML, or not a mapping, is refused clearly', () => {
  assert.match(problems(() => loadConfig({ fileText: 'server: [unclosed' })).join(), /not valid YAML/);
  assert.match(problems(() => loadConfig({ fileText: '- a\n- b\n' })).join(), /mapping/);
  assert.match(problems(() => loadConfig({ file: '/nonexistent/postwarden.yaml' })).join(), /cannot read/);
});

test('store.url must be a postgres:// URL or empty, and the error names the setting without echoing the value', () => {
  for (const url of ['not-a-url', 'mysql://root:hunter2@db/mail', 'sqlite:./data/pw.db', 'http://db:5432/x']) {
    const list = problems(() => loadConfig({ overrides: { store: { url } } }));
    assert.equal(list.length, 1, list.join('; '));
    assert.match(
      list[0]!,
      /^\/store\/url .*postgres:\/\/ or postgresql:\/\/ URL .*--database-url.*DATABASE_URL.*empty for the SQLite file/,
    );
    assert.ok(!list[0]!.includes('hunter2'), 'a password in the URL is never repeated');
  }
  assert.match(problems(() => loadConfig({ env: { DATABASE_URL: 'mysql://db/mail' } }))[0]!, /^\/store\/url uses the scheme mysql:/);
  for (const url of ['', 'postgres://postwarden@db.internal:5432/postwarden', 'postgresql://u:p@127.0.0.1/test?sslmode=disable'])
    assert.equal(loadConfig({ overrides: { store: { url } } }).store.url, url);
});
