import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { createStore, type Store } from '../../src/store/index.js';
import { createTenants } from '../../src/tenants/index.js';
import { encryptionFor } from '../protection/seed.js';
import { sendBatches, waitUntil } from '../support/delivery-lab.js';
import { createPostgresSchema, postgresSkipReason, postgresUrl } from '../support/dialects.js';
import { type BenchServer, startServer } from '../support/server-process.js';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';
import { receivedEvents } from './webhook-harness.js';

/**
 * Done-means 3 of issue 15: `postwarden serve` as a child process is killed with SIGKILL while it
 * dispatches webhooks (SQLite: one node, restarted on the same data; PostgreSQL: two nodes, one
 * killed, the other carries on). Every event reaches the receiver; an event arrives twice only when
 * its delivery was in flight at the kill (the receiver may have answered 2xx, the settle was not
 * committed), and both copies carry the same webhook-id.
 */
const MESSAGES = 600;

interface Run {
  store: Store;
  receiver: WebhookReceiver;
  servers: BenchServer[];
  tenantId: string;
  key: string;
}

async function setUp(t: TestContext, databaseUrl: string | undefined, nodes: number): Promise<Run> {
  const dataDirs = Array.from({ length: nodes }, () => mkdtempSync(join(tmpdir(), 'pw-webhook-crash-')));
  const servers: BenchServer[] = [];
  let store: Store | undefined;
  const receiver = await startWebhookReceiver(t);
  // Slow enough answers that POSTs are in flight when the kill comes.
  receiver.delayMs = 15;
  t.after(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await store?.close();
    for (const d of dataDirs) rmSync(d, { recursive: true, force: true });
  });
  const config = {
    sandbox: true,
    delivery: { pollMs: 50, leaseSeconds: 5 },
    webhooks: { allowPrivateTargets: true, pollMs: 20, leaseSeconds: 5, concurrency: 32 },
    // Endpoint secrets are sealed with the master key: every node of a cluster shares it.
    security: { masterKeyFile: join(dataDirs[0]!, 'master.key') },
  };
  const env = (dir: string) => {
    const file = join(dir, 'webhook-crash.json');
    writeFileSync(file, JSON.stringify(config));
    return { POSTWARDEN_CONFIG: file };
  };
  const first = await startServer({ dataDir: dataDirs[0]!, env: env(dataDirs[0]!), ...(databaseUrl ? { databaseUrl } : {}) });
  servers.push(first);
  store = await createStore({
    ...(databaseUrl ? { url: databaseUrl } : { dataDir: dataDirs[0]! }),
    encryption: encryptionFor(dataDirs[0]!),
  });
  const tenant = (await (
    await fetch(`http://127.0.0.1:${first.http}/v1/tenant`, { headers: { authorization: `Bearer ${first.key}` } })
  ).json()) as {
    id: string;
  };
  // The bench bootstrap's key has no admin scope; an operator's key for managing webhooks.
  const admin = (await createTenants({ store, clock: { now: () => Date.now() } }).createKey({ tenantId: tenant.id, scopes: ['admin'] }))
    .secret;
  const hook = await fetch(`http://127.0.0.1:${first.http}/v1/webhooks`, {
    method: 'POST',
    headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
    body: JSON.stringify({ url: receiver.url }),
  });
  assert.equal(hook.status, 201);
  receiver.secrets.push(((await hook.json()) as { secret: string }).secret);
  for (let i = 1; i < nodes; i++) {
    servers.push(
      await startServer({
        dataDir: dataDirs[i]!,
        env: env(dataDirs[i]!),
        bootstrap: false,
        key: first.key,
        ...(databaseUrl ? { databaseUrl } : {}),
      }),
    );
  }
  return { store, receiver, servers, tenantId: tenant.id, key: first.key };
}

/** Kills `victim` once the receiver has half of the expected events; answers the deliveries in flight then. */
async function killMidDispatch(run: Run, victim: BenchServer): Promise<Set<string>> {
  await waitUntil('the receiver got 1,000 events', () => run.receiver.accepted().length >= 1000, 120_000, 5);
  victim.child.kill('SIGKILL');
  if (victim.child.exitCode === null && victim.child.signalCode === null) await new Promise((r) => victim.child.once('exit', r));
  // Read the in-flight rows right after the kill: their event ids may legitimately arrive twice.
  const open = await run.store.webhookDeliveries.countOpen();
  assert.ok(open > 0, 'the kill came mid-dispatch');
  const rows = await inFlightEventIds(run.store);
  return rows;
}

async function inFlightEventIds(store: Store): Promise<Set<string>> {
  // Through the store's own leased-work view: claim nothing, just read the in-flight rows' events.
  const ids = new Set<string>();
  for (const d of await store.webhookDeliveries.listInFlight()) ids.add(d.eventId);
  return ids;
}

async function checkEverythingArrived(t: TestContext, run: Run, inFlight: Set<string>): Promise<void> {
  // Mail the killed node held comes back after its lease: wait for every recipient's last event.
  await waitUntil('every recipient is settled', async () => (await run.store.recipients.countOpen()) === 0, 120_000, 100);
  const events = await run.store.events.page({ tenantId: run.tenantId, limit: 100_000 });
  assert.ok(events.length >= MESSAGES * 3, `${events.length} events`);
  await waitUntil(
    () => `every event reached the receiver (${new Set(receivedEvents(run.receiver).map((e) => e.id)).size} of ${events.length})`,
    () => new Set(receivedEvents(run.receiver).map((e) => e.id)).size >= events.length,
    120_000,
    100,
  );
  const got = receivedEvents(run.receiver);
  assert.deepEqual(new Set(got.map((e) => e.id)), new Set(events.map((e) => e.id)), 'every event arrived, and nothing else');
  const count = new Map<string, number>();
  for (const e of got) count.set(e.id, (count.get(e.id) ?? 0) + 1);
  const duplicates = [...count].filter(([, n]) => n > 1).map(([id]) => id);
  for (const id of duplicates) {
    assert.ok(inFlight.has(id), `${id} arrived twice although its delivery was settled before the kill`);
    assert.equal(count.get(id), 2);
  }
  assert.ok(
    run.receiver.received.every((r) => r.webhookId === (r.body as { id: string }).id),
    'every copy carries the event id as webhook-id',
  );
  assert.ok(
    run.receiver.received.every((r) => r.verifiedBy.length === 1),
    'every POST verified',
  );
  t.diagnostic(`${events.length} events; in flight at the kill ${inFlight.size}; duplicates ${duplicates.length}`);
}

test('kill -9 mid-dispatch on SQLite and a restart: every event reaches the receiver, duplicates only for attempts in flight', {
  timeout: 300_000,
}, async (t) => {
  const run = await setUp(t, undefined, 1);
  const server = run.servers[0]!;
  const messages = Array.from({ length: MESSAGES }, (_, i) => ({ from: 'a@bench.example', to: `u${i}@x.test`, subject: 's', text: 't' }));
  await sendBatches(`http://127.0.0.1:${server.http}`, run.key, messages);
  const inFlight = await killMidDispatch(run, server);
  const dataDir = server.child.spawnargs[server.child.spawnargs.indexOf('--data-dir') + 1]!;
  run.servers.push(
    await startServer({ dataDir, env: { POSTWARDEN_CONFIG: join(dataDir, 'webhook-crash.json') }, bootstrap: false, key: run.key }),
  );
  await checkEverythingArrived(t, run, inFlight);
});

test('two nodes on PostgreSQL, one killed with SIGKILL mid-dispatch: the other delivers every event, duplicates only for attempts in flight', {
  timeout: 300_000,
  skip: postgresUrl ? false : postgresSkipReason,
}, async (t) => {
  const schema = await createPostgresSchema();
  const run = await setUp(t, schema.url, 2);
  t.after(() => schema.drop());
  const [a] = run.servers;
  const messages = Array.from({ length: MESSAGES }, (_, i) => ({ from: 'a@bench.example', to: `u${i}@x.test`, subject: 's', text: 't' }));
  await sendBatches(`http://127.0.0.1:${a!.http}`, run.key, messages);
  const inFlight = await killMidDispatch(run, a!);
  await checkEverythingArrived(t, run, inFlight);
});
