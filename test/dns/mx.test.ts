import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { createResolver, type MxRoute, resolveMxRoute, siteName } from '../../src/dns/index.js';
import { type DnsServerOptions, startDnsServer, type Zone } from '../support/dns-server.js';

const zone: Zone = {
  'example.com': {
    MX: [
      { priority: 20, exchange: 'backup.example.net' },
      { priority: 10, exchange: 'mx1.example.net' },
      { priority: 10, exchange: 'mx2.example.net' },
      { priority: 10, exchange: 'mx3.example.net' },
    ],
  },
  'customer.org': {
    MX: [
      { priority: 5, exchange: 'MX2.example.net.' },
      { priority: 5, exchange: 'mx3.example.net' },
      { priority: 5, exchange: 'mx1.example.net' },
      { priority: 30, exchange: 'backup.example.net' },
    ],
  },
  'mx1.example.net': { A: ['192.0.2.1'] },
  'mx2.example.net': { A: ['192.0.2.2'] },
  'mx3.example.net': { A: ['192.0.2.3'], AAAA: ['2001:db8::3'] },
  'backup.example.net': { A: ['192.0.2.9'] },
  'bare.example': { A: ['192.0.2.50'], AAAA: ['2001:db8::50'] },
  'nullmx.example': { MX: [{ priority: 0, exchange: '.' }], A: ['192.0.2.60'] },
  'txt-only.example': { TXT: ['v=spf1 -all'] },
  'half.example': {
    MX: [
      { priority: 10, exchange: 'missing.example.net' },
      { priority: 20, exchange: 'mx1.example.net' },
    ],
  },
  'dead.example': { MX: [{ priority: 10, exchange: 'missing.example.net' }] },
  'flaky.example': {
    MX: [
      { priority: 10, exchange: 'missing.example.net' },
      { priority: 20, exchange: 'broken.example.net' },
    ],
  },
  'broken.example.net': { A: ['192.0.2.70'] },
};

async function setup(t: TestContext, options: DnsServerOptions = {}) {
  const server = await startDnsServer(t, zone, options);
  const resolver = createResolver({ servers: [server.address], clock: { now: () => 0 }, timeoutMs: 200, tries: 1 });
  return { server, resolver };
}

function hostsOf(route: MxRoute) {
  assert.equal(route.kind, 'hosts', `expected hosts, got ${JSON.stringify(route)}`);
  return route as Extract<MxRoute, { kind: 'hosts' }>;
}

test('orders hosts by ascending preference with addresses A then AAAA', async (t) => {
  const { resolver } = await setup(t);
  const route = hostsOf(await resolveMxRoute(resolver, 'example.com', { random: () => 0.999 }));
  assert.deepEqual(
    route.hosts.map((h) => [h.name, h.priority]),
    [
      ['mx1.example.net', 10],
      ['mx2.example.net', 10],
      ['mx3.example.net', 10],
      ['backup.example.net', 20],
    ],
  );
  assert.deepEqual(route.hosts[2]?.addresses, ['192.0.2.3', '2001:db8::3']);
  assert.equal(route.implicit, false);
});

test('shuffles hosts of equal preference with the injected random source', async (t) => {
  const { resolver } = await setup(t);
  const route = hostsOf(await resolveMxRoute(resolver, 'example.com', { random: () => 0 }));
  assert.deepEqual(
    route.hosts.map((h) => h.name),
    ['mx2.example.net', 'mx3.example.net', 'mx1.example.net', 'backup.example.net'],
  );
});

test('gives domains hosted on the same MX hosts the same site name', async (t) => {
  const { resolver } = await setup(t);
  const a = hostsOf(await resolveMxRoute(resolver, 'example.com'));
  const b = hostsOf(await resolveMxRoute(resolver, 'customer.org'));
  assert.equal(a.site, 'backup.example.net,mx1.example.net,mx2.example.net,mx3.example.net');
  assert.equal(b.site, a.site);
});

test('names a site by its sorted unique host names', () => {
  assert.equal(siteName([{ name: 'b.example' }, { name: 'A.example.' }, { name: 'b.example' }]), 'a.example,b.example');
});

test('uses the domain itself as an implicit MX when it has no MX records', async (t) => {
  const { resolver } = await setup(t);
  const route = hostsOf(await resolveMxRoute(resolver, 'bare.example'));
  assert.equal(route.implicit, true);
  assert.deepEqual(route.hosts, [{ name: 'bare.example', priority: 0, addresses: ['192.0.2.50', '2001:db8::50'] }]);
  assert.equal(route.site, 'bare.example');
});

test('reports a Null MX even when the domain has an address', async (t) => {
  const { resolver } = await setup(t);
  assert.deepEqual(await resolveMxRoute(resolver, 'nullmx.example'), { kind: 'null-mx' });
});

test('reports NXDOMAIN for a domain that does not exist', async (t) => {
  const { resolver } = await setup(t);
  assert.deepEqual(await resolveMxRoute(resolver, 'nope.example'), { kind: 'nxdomain' });
});

test('reports no route for a domain with neither MX nor addresses', async (t) => {
  const { resolver } = await setup(t);
  assert.equal((await resolveMxRoute(resolver, 'txt-only.example')).kind, 'no-route');
});

test('defers when the MX lookup fails', async (t) => {
  const { resolver } = await setup(t, { servfail: ['example.com'] });
  const route = await resolveMxRoute(resolver, 'example.com');
  assert.equal(route.kind, 'temporary');
  assert.match(route.kind === 'temporary' ? route.reason : '', /servfail/);
});

test('defers when the implicit MX address lookup times out', async (t) => {
  const { resolver } = await setup(t, { delayMs: { 'bare.example': 500 } });
  assert.equal((await resolveMxRoute(resolver, 'bare.example')).kind, 'temporary');
});

test('skips an MX target that does not resolve and records why', async (t) => {
  const { resolver } = await setup(t);
  const route = hostsOf(await resolveMxRoute(resolver, 'half.example'));
  assert.deepEqual(
    route.hosts.map((h) => h.name),
    ['mx1.example.net'],
  );
  assert.deepEqual(route.skipped, [{ name: 'missing.example.net', reason: 'host does not exist' }]);
  assert.equal(route.site, 'mx1.example.net');
});

test('reports no route when no MX target has an address', async (t) => {
  const { resolver } = await setup(t);
  assert.equal((await resolveMxRoute(resolver, 'dead.example')).kind, 'no-route');
});

test('defers rather than bounces when an unresolved MX target failed temporarily', async (t) => {
  const { resolver } = await setup(t, { servfail: ['broken.example.net'] });
  assert.equal((await resolveMxRoute(resolver, 'flaky.example')).kind, 'temporary');
});
