import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import pino from 'pino';
import { loadConfig } from '../../src/config/index.js';
import { createPlatform } from '../../src/platform.js';
import { createScheduledJob } from '../../src/queue/index.js';
import { createStore, type DialectName, type Store } from '../../src/store/index.js';
import { fakeClock } from '../support/clock.js';
import { createPostgresSchema, forEachDialect, postgresUrl, tempDir } from '../support/dialects.js';
import { startPlatform } from '../support/platform.js';

const LEASE = 180_000;
const EVERY = 60_000;

/** Two nodes: two stores (two connection pools on PostgreSQL) over one database. */
async function twoNodes(t: import('node:test').TestContext, dialect: DialectName): Promise<[Store, Store]> {
  if (dialect === 'postgres') {
    const schema = await createPostgresSchema();
    const a = await createStore({ url: schema.url, poolSize: 2 });
    const b = await createStore({ url: schema.url, poolSize: 2 });
    t.after(async () => {
      await Promise.all([a.close(), b.close()]);
      await schema.drop();
    });
    return [a, b];
  }
  const file = join(tempDir(t), 'jobs.db');
  const a = await createStore({ sqliteFile: file });
  const b = await createStore({ sqliteFile: file });
  t.after(() => Promise.all([a.close(), b.close()]));
  return [a, b];
}

function node(store: Store, owner: string, clock: ReturnType<typeof fakeClock>, runs: string[]) {
  return createScheduledJob({
    name: 'posture-monitor',
    everyMs: EVERY,
    leaseMs: LEASE,
    run: async () => {
      runs.push(owner);
    },
    leases: store.jobLeases,
    owner,
    clock,
  });
}

forEachDialect(
  'a scheduled job runs on one node of two each tick, and the other takes over once the holder stops renewing',
  async (t, dialect) => {
    const [storeA, storeB] = await twoNodes(t, dialect);
    const clock = fakeClock();
    const runs: string[] = [];
    const a = node(storeA, 'node-a', clock, runs);
    const b = node(storeB, 'node-b', clock, runs);

    // Both nodes tick at the same moment, ten ticks in a row: one of them runs the job each time.
    for (let i = 0; i < 10; i++) {
      const ran = await Promise.all([a.tick(), b.tick()]);
      assert.equal(ran.filter(Boolean).length, 1, `tick ${i}: ${JSON.stringify(ran)}`);
      clock.advance(EVERY);
    }
    const holder = runs[0]!;
    assert.deepEqual(new Set(runs), new Set([holder]), 'the holder keeps the job while it renews');
    assert.equal(runs.length, 10);

    // The holder dies: no more ticks, no release. Until its lease lapses nobody runs the job.
    const survivor = holder === 'node-a' ? b : a;
    const survivorName = holder === 'node-a' ? 'node-b' : 'node-a';
    assert.equal(await storeA.jobLeases.holder('posture-monitor', clock.now()), holder);
    clock.advance(LEASE - 2 * EVERY);
    assert.equal(await survivor.tick(), false, 'the lease of the dead node still holds');
    clock.advance(2 * EVERY);
    assert.equal(await survivor.tick(), true, 'taken over once the lease lapsed');
    assert.equal(runs.at(-1), survivorName);
    assert.equal(await storeB.jobLeases.holder('posture-monitor', clock.now()), survivorName);
  },
  test,
);

forEachDialect(
  'a node that stops cleanly gives its job up at once, and a failing run neither throws nor loses the lease',
  async (t, dialect) => {
    const [storeA, storeB] = await twoNodes(t, dialect);
    const clock = fakeClock();
    const warnings: string[] = [];
    let fail = true;
    const a = createScheduledJob({
      name: 'tls-rpt-reports',
      everyMs: EVERY,
      leaseMs: LEASE,
      run: async () => {
        if (fail) throw new Error('the database cannot be reached');
      },
      leases: storeA.jobLeases,
      owner: 'node-a',
      clock,
      log: { warn: (_o, msg) => warnings.push(msg) },
    });
    const runs: string[] = [];
    const b = createScheduledJob({
      name: 'tls-rpt-reports',
      everyMs: EVERY,
      leaseMs: LEASE,
      run: async () => {
        runs.push('node-b');
      },
      leases: storeB.jobLeases,
      owner: 'node-b',
      clock,
    });
    assert.equal(await a.tick(), true);
    assert.match(warnings.join(), /scheduled job failed/);
    fail = false;
    assert.equal(await b.tick(), false, 'a failed run keeps its lease: the job is retried on the same node');
    await a.stop();
    assert.equal(await b.tick(), true, 'released at stop: taken over without waiting for the lease');
    assert.deepEqual(runs, ['node-b']);
  },
  test,
);

test('two nodes on one PostgreSQL: each platform job ticks on one node only, and the other takes over when the holder stops', {
  skip: postgresUrl ? false : 'PostgreSQL tests skipped: set POSTWARDEN_TEST_DATABASE_URL',
}, async (t) => {
  const schema = await createPostgresSchema();
  const clock = fakeClock();
  const tlsRpt = { transportSecurity: { tlsRpt: { enabled: true } } };
  const first = await startPlatform(t, { clock, config: { store: { url: schema.url }, ...tlsRpt } });
  // A second node of the cluster: same database, its own data dir, the delivery role only.
  const second = await createPlatform(
    loadConfig({
      overrides: {
        dataDir: tempDir(t),
        sandbox: true,
        server: { httpPort: 0, hostname: 'pw2.test', roles: ['delivery'] },
        store: { url: schema.url },
        security: { masterKeyFile: first.config.security.masterKeyFile },
        // As in startPlatform: the posture monitor would ask public DNS about the test domains.
        posture: { monitor: false },
        ...tlsRpt,
      },
    }),
    { clock, log: pino({ level: 'silent' }) },
  );
  await second.start();
  t.after(async () => {
    await second.stop();
    await schema.drop();
  });
  const names = first.platform.jobs.map((j) => j.name).sort();
  assert.deepEqual(
    names,
    [
      'compliance-check',
      'experiments-evaluate',
      'identity-schedule',
      'residency-holds:-',
      'retention-purge',
      'tls-rpt-reports',
      'tracking-marks-purge',
    ],
    'the posture monitor is off in tests',
  );
  assert.deepEqual(second.jobs.map((j) => j.name).sort(), names);
  for (const name of names) {
    const a = first.platform.jobs.find((j) => j.name === name)!;
    const b = second.jobs.find((j) => j.name === name)!;
    for (let i = 0; i < 3; i++) {
      const ran = await Promise.all([a.tick(), b.tick()]);
      assert.equal(ran.filter(Boolean).length, 1, `${name} tick ${i}: ${JSON.stringify(ran)}`);
      clock.advance(60_000);
    }
  }
  const holder = await first.platform.store.jobLeases.holder('identity-schedule', clock.now());
  const [stopping, staying] = holder?.startsWith('pw2.test') ? [second, first.platform] : [first.platform, second];
  await stopping.jobs.find((j) => j.name === 'identity-schedule')!.stop();
  assert.equal(await staying.jobs.find((j) => j.name === 'identity-schedule')!.tick(), true, 'the other node takes over');
});
