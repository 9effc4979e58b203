import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import pino from 'pino';
import { loadConfig, platformIdentityOf, unqualifiedNames } from '../../src/config/index.js';
import { createDomains } from '../../src/identity/index.js';
import { createPlatform } from '../../src/platform.js';
import { createTenants } from '../../src/tenants/index.js';
import { fakeClock } from '../support/clock.js';
import { openStore, tempDir } from '../support/dialects.js';
import { startPlatform } from '../support/platform.js';

/**
 * Finding 9 of issue 13: on a host named `vm` (no dot) onboarding offered `a:vm`, `MX 10 vm` and
 * `rua=mailto:dmarc@vm`, records no one else can resolve. Now they are refused with the setting to set.
 */
const vm = (extra: object = {}) => loadConfig({ overrides: { server: { hostname: 'vm' }, ...extra } });

test('lists every name built on a dotless host name with the setting that fixes it', () => {
  const { records, links } = unqualifiedNames(vm());
  assert.deepEqual(
    records.map((r) => [r.name, r.setting]),
    [
      ['vm', 'feedback.reportDomain or server.hostname'],
      ['vm', 'identity.inboundMxHost or server.hostname'],
      ['vm', 'identity.spfInclude, identity.sendingIps or server.hostname'],
    ],
  );
  assert.deepEqual(
    links.map((l) => [l.use, l.setting]),
    [['one-click unsubscribe links (http://vm:8025)', 'server.publicUrl or server.hostname']],
  );
  const fixed = unqualifiedNames(loadConfig({ overrides: { server: { hostname: 'mail.example.com' } } }));
  assert.deepEqual(fixed, { records: [], links: [] });
  // Each name can be set on its own; a trailing dot is still qualified.
  const apart = vm({
    feedback: { reportDomain: 'reports.example.com.' },
    identity: { inboundMxHost: 'mx.example.com', sendingIps: ['192.0.2.1'] },
    server: { hostname: 'vm', publicUrl: 'https://mail.example.com' },
  });
  assert.deepEqual(unqualifiedNames(apart), { records: [], links: [] });
});

test('adding a domain on a dotless host is refused with 409-style HOSTNAME_UNQUALIFIED and stores nothing', async (t) => {
  const store = await openStore(t, 'sqlite');
  const clock = fakeClock();
  const tenants = createTenants({ store, clock });
  const tenant = await tenants.createTenant({ name: 'acme' });
  const domains = createDomains({
    store,
    tenants,
    clock,
    masterKey: randomBytes(32),
    dkim: { algorithms: ['rsa-2048'] },
    platform: platformIdentityOf(vm()),
  });
  await assert.rejects(domains.addDomain(tenant.id, 'shop.example'), (e: Error & { code?: string; details?: { errors?: unknown[] } }) => {
    assert.equal(e.code, 'HOSTNAME_UNQUALIFIED');
    assert.match(e.message, /"vm", which has no dot.*Set feedback\.reportDomain or server\.hostname/);
    assert.equal(e.details?.errors?.length, 3);
    return true;
  });
  assert.deepEqual(await tenants.listDomains(tenant.id), []);
});

test('GET /v1/domains/{id} answers 409 problem+json naming the settings instead of records built on "vm"', async (t) => {
  // Sandbox (node-wide here): the domain is added, since nothing leaves the machine, but no record built on "vm" is shown.
  const p = await startPlatform(t, { config: { server: { hostname: 'vm' } } });
  const added = await p.request('POST', '/v1/domains', { name: 'shop.example' });
  assert.equal(added.status, 201, JSON.stringify(added.body));
  assert.deepEqual(added.body.dns_records, []);
  assert.equal(added.body.dns_records_withheld.code, 'HOSTNAME_UNQUALIFIED');
  assert.doesNotMatch(JSON.stringify(added.body), /v=spf1|v=DMARC1/);

  const got = await p.request('GET', `/v1/domains/${added.body.id}`);
  assert.equal(got.status, 409);
  assert.match(got.headers.get('content-type') ?? '', /application\/problem\+json/);
  assert.equal(got.body.code, 'HOSTNAME_UNQUALIFIED');
  assert.deepEqual(
    got.body.errors.map((e: { path: string }) => e.path),
    ['/feedback/reportDomain', '/identity/inboundMxHost', '/identity/spfInclude'],
  );
  assert.match(got.body.detail, /server\.hostname/);
});

test('a platform on a dotless host warns at start-up, naming each setting to set', async (t) => {
  const lines: { level: number; msg: string; setting?: string }[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      done();
    },
  });
  const dataDir = tempDir(t);
  const config = loadConfig({ overrides: { dataDir, server: { hostname: 'vm' }, security: { masterKeyFile: join(dataDir, 'k') } } });
  const platform = await createPlatform(config, { log: pino({ level: 'info' }, sink) });
  t.after(() => platform.stop());
  const warnings = lines.filter((l) => l.level === 40 && /has no dot/.test(l.msg));
  assert.deepEqual(
    warnings.map((w) => w.setting),
    [
      'feedback.reportDomain or server.hostname',
      'identity.inboundMxHost or server.hostname',
      'identity.spfInclude, identity.sendingIps or server.hostname',
      'server.publicUrl or server.hostname',
    ],
  );
});
