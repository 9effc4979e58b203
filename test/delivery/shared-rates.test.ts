import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import pino from 'pino';
import { loadConfig } from '../../src/config/index.js';
import { chooseSharedCounter, createRedisCounter, createShaper, createStoreCounter } from '../../src/delivery/index.js';
import { createPlatform, type Platform } from '../../src/platform.js';
import { fakeClock } from '../support/clock.js';
import { sendBatches, startDeliveryLab, waitUntil } from '../support/delivery-lab.js';
import { announcePostgresSkip, createPostgresSchema, forEachDialect, openStore, postgresUrl, tempDir } from '../support/dialects.js';

/**
 * Cluster-wide destination rates (the delivery engine's "limits hold across nodes"): every node
 * counts its sends to a destination in a shared fixed window, in the store (PostgreSQL) or in
 * Redis, so `perMinute` bounds the cluster and not each node.
 */
const redisUrl = process.env.POSTWARDEN_TEST_REDIS_URL ?? '';
if (!redisUrl) console.log('# Redis tests skipped: set POSTWARDEN_TEST_REDIS_URL (CI: redis://127.0.0.1:6379)');

forEachDialect(
  'the store counter gives concurrent nodes distinct running totals and starts each window at zero',
  async (t, dialect) => {
    const store = await openStore(t, dialect);
    const clock = fakeClock();
    const nodeA = createStoreCounter({ store, clock });
    const nodeB = createStoreCounter({ store, clock });
    const totals = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? nodeA : nodeB).increment('pool|mx.a.test', 60_000, 1)));
    assert.deepEqual(
      totals.sort((a, b) => a - b),
      Array.from({ length: 40 }, (_, i) => i + 1),
    );
    assert.equal(await nodeA.increment('pool|mx.b.test', 60_000, 3), 3, 'another destination counts apart');
    clock.advance(60_000);
    assert.equal(await nodeB.increment('pool|mx.a.test', 60_000, 1), 1, 'a new window starts at zero');
  },
  test,
);

forEachDialect(
  'ended windows are purged and live ones kept',
  async (t, dialect) => {
    const store = await openStore(t, dialect);
    await store.rateWindows.increment('1000|a', 0, 1, 1000);
    await store.rateWindows.increment('60000|a', 0, 1, 60_000);
    assert.equal(await store.rateWindows.purgeExpired(30_000), 1);
    assert.equal(await store.rateWindows.increment('60000|a', 0, 1, 60_000), 2, 'the live window kept its count');
  },
  test,
);

test('two shapers sharing a counter hold perMinute for both together', async (t) => {
  const store = await openStore(t, 'sqlite');
  const clock = fakeClock();
  const rules = { default: { maxConnections: 5, maxMessagesPerConnection: 100, perSecond: 0, perMinute: 10 } };
  const a = createShaper({ rules, clock, counter: createStoreCounter({ store, clock }) });
  const b = createShaper({ rules, clock, counter: createStoreCounter({ store, clock }) });
  assert.equal(a.shared, true);
  let sent = 0;
  for (let i = 0; i < 30; i++) if ((await (i % 3 ? a : b).takeShared('default|mx.a.test')) === 0) sent++;
  assert.equal(sent, 10);
  // The wait ends with the window.
  clock.advance(15_000);
  assert.equal(await a.takeShared('default|mx.a.test'), 45_000);
  assert.equal(createShaper({ rules, clock }).shared, false, 'no counter: local buckets only');
});

test('the counter follows delivery.sharedRates: off on one SQLite node, the store on PostgreSQL, Redis when set', async (t) => {
  const clock = fakeClock();
  const sqlite = await openStore(t, 'sqlite');
  assert.equal(chooseSharedCounter({ mode: 'auto', redisUrl: '', store: sqlite, clock }), undefined);
  assert.equal(chooseSharedCounter({ mode: 'store', redisUrl: '', store: sqlite, clock })?.backing, 'store');
  const redis = chooseSharedCounter({ mode: 'auto', redisUrl: 'redis://127.0.0.1:1', store: sqlite, clock });
  assert.equal(redis?.backing, 'redis');
  await redis?.close();
  assert.equal(chooseSharedCounter({ mode: 'auto', redisUrl: '', store: { ...sqlite, dialect: 'postgres' }, clock })?.backing, 'store');
  assert.throws(() => chooseSharedCounter({ mode: 'redis', redisUrl: '', store: sqlite, clock }), /cluster\.redisUrl/);
});

test('an unreachable Redis fails the increment quickly instead of queueing it', async (t) => {
  // A port that refuses: listen, note it, close.
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((r) => server.close(() => r()));
  const counter = createRedisCounter({ url: `redis://127.0.0.1:${port}`, clock: fakeClock() });
  t.after(() => counter.close());
  const started = Date.now();
  await assert.rejects(async () => counter.increment('k', 1000, 1));
  assert.ok(Date.now() - started < 5000);
});

test('the Redis counter gives concurrent nodes distinct running totals per window', {
  skip: !redisUrl && 'needs POSTWARDEN_TEST_REDIS_URL',
}, async (t) => {
  const clock = fakeClock(Date.now());
  // A prefix of its own per run: the CI Redis is shared by every test and keeps nothing on disk.
  const prefix = `pw-test:${process.pid}:${Date.now()}:`;
  const a = createRedisCounter({ url: redisUrl, clock, prefix });
  const b = createRedisCounter({ url: redisUrl, clock, prefix });
  t.after(() => Promise.all([a.close(), b.close()]));
  const totals = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).increment('pool|mx.a.test', 60_000, 1)));
  assert.deepEqual(
    totals.sort((x, y) => x - y),
    Array.from({ length: 40 }, (_, i) => i + 1),
  );
  clock.advance(60_000);
  assert.equal(await a.increment('pool|mx.a.test', 60_000, 2), 2);
});

announcePostgresSkip();

/**
 * Two whole nodes on one PostgreSQL schema, with a frozen clock so the minute never ends: together
 * they deliver exactly `perMinute` messages to the destination; the rest wait for the next window.
 * With `sharedRates: 'off'` each node would spend the whole limit on its own (the control run).
 */
for (const mode of ['auto', 'redis', 'off'] as const) {
  const title = {
    auto: 'share one perMinute budget through the store',
    redis: 'share one perMinute budget through Redis',
    off: 'each spend the whole budget when sharing is off',
  }[mode];
  test(`two nodes on PostgreSQL ${title}`, {
    skip: (!postgresUrl && 'needs POSTWARDEN_TEST_DATABASE_URL') || (mode === 'redis' && !redisUrl && 'needs POSTWARDEN_TEST_REDIS_URL'),
    timeout: 60_000,
  }, async (t) => {
    const PER_MINUTE = 8;
    const schema = await createPostgresSchema();
    const lab = await startDeliveryLab(t, { 'a.test': {} });
    const clock = fakeClock(Date.now());
    const masterKeyFile = join(tempDir(t), 'master.key');
    // One prefix for both nodes (they are one cluster), new per run: the CI Redis outlives runs.
    const redisPrefix = `pw-test:${process.pid}:${Date.now()}:`;
    const nodes: Platform[] = [];
    t.after(async () => {
      for (const n of nodes) await n.stop();
      await schema.drop();
    });
    const startNode = async (name: string) => {
      const config = loadConfig({
        overrides: {
          dataDir: tempDir(t),
          sandbox: false,
          ...lab.config,
          server: { httpPort: 0, smtpPort: 0, mxPort: 0, hostname: `${name}.pw.test`, roles: ['api', 'delivery'] },
          cluster: { redisUrl: mode === 'redis' ? redisUrl : '', redisPrefix },
          store: { url: schema.url },
          delivery: { ...lab.config.delivery, pollMs: 20, concurrency: 2, perMinute: PER_MINUTE, sharedRates: mode, ehloName: name },
          security: { masterKeyFile },
        },
      });
      const node = await createPlatform(config, { clock, log: pino({ level: 'silent' }) });
      nodes.push(node);
      return node;
    };
    const a = await startNode('node-a');
    const b = await startNode('node-b');
    const tenant = await a.tenants.createTenant({ name: 'Shared rates' });
    const { secret } = await a.tenants.createKey({ tenantId: tenant.id, scopes: ['send', 'read'] });
    await a.domains.addDomain(tenant.id, 'example.com');
    const portA = (await a.start()).http;
    await b.start();
    await sendBatches(
      `http://127.0.0.1:${portA}`,
      secret,
      Array.from({ length: 30 }, (_, i) => ({ from: 'app@example.com', to: `u${i}@a.test`, subject: `m${i}`, text: 'hi' })),
    );
    const sink = lab.sinks.get('a.test')!;
    const expected = mode === 'off' ? 2 * PER_MINUTE : PER_MINUTE;
    await waitUntil(`${expected} deliveries`, () => sink.messages.length >= expected, 20_000);
    // Both nodes took part, and nothing more goes out in this minute.
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(sink.messages.length, expected);
    const byNode = new Set(sink.messages.map((m) => m.heloName));
    assert.equal(byNode.size, 2, `deliveries came from ${[...byNode].join(', ')}`);
    if (mode === 'off') return;
    clock.advance(60_000);
    await waitUntil('the next window', () => sink.messages.length >= 2 * PER_MINUTE, 20_000);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(sink.messages.length, 2 * PER_MINUTE);
  });
}
