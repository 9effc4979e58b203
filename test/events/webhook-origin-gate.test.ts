import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CONNECTIONS_PER_ORIGIN } from '../../src/events/webhooks/poster.js';
import { createOriginGate } from '../../src/events/webhooks/sender.js';
import { TENANT, webhookHarness } from './webhook-harness.js';

test('the gate runs at most `limit` calls per origin, the rest in arrival order, other origins not held', async () => {
  const gate = createOriginGate(2);
  const release: (() => void)[] = [];
  const started: string[] = [];
  const call = (origin: string, name: string) =>
    gate.run(origin, () => {
      started.push(name);
      return new Promise<void>((r) => release.push(r));
    });
  const all = [call('a', 'a1'), call('a', 'a2'), call('a', 'a3'), call('a', 'a4'), call('b', 'b1')];
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(started, ['a1', 'a2', 'b1']);
  assert.equal(gate.waiting(), 2);
  release.shift()!(); // a1 ends: a3 takes its slot
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(started, ['a1', 'a2', 'b1', 'a3']);
  while (release.length) {
    release.shift()!();
    await new Promise((r) => setImmediate(r));
  }
  await Promise.all(all);
  assert.deepEqual(started, ['a1', 'a2', 'b1', 'a3', 'a4']);
  assert.equal(gate.waiting(), 0);
});

test('a window wider than the connections to a slow receiver: every POST succeeds on its first attempt', { timeout: 60_000 }, async (t) => {
  // Four waves of POSTs (four times the connections) at 400 ms each take 1.6 s, the deadline is 1 s:
  // if POSTs waited for a connection inside the HTTP client, the last waves would time out there.
  const h = await webhookHarness(t, 'sqlite', { timeoutMs: 1000, concurrency: 4 * CONNECTIONS_PER_ORIGIN });
  const { endpoint, secret } = await h.webhooks.endpoints.create(TENANT, { url: h.receiver.url });
  h.receiver.secrets.push(secret);
  h.receiver.delayMs = 400;
  const n = 4 * CONNECTIONS_PER_ORIGIN;
  await h.appendMessages(n, ['recipient.queued']);
  await h.webhooks.dispatcher.tick();
  assert.equal(await h.webhooks.worker.tick(), n, 'the whole window is claimed at once');
  await h.webhooks.worker.idle();
  assert.equal(h.receiver.accepted().length, n);
  assert.equal(h.receiver.received.length, n, 'no POST was tried twice');
  await h.pump(); // commits the settles
  const attempts = await h.store.webhookDeliveries.listAttempts(endpoint.id, { limit: 1000 });
  assert.equal(attempts.length, n);
  assert.deepEqual(
    attempts.filter((a) => a.outcome !== 'succeeded').map((a) => a.error),
    [],
  );
  // Each POST's latency is its own (~400 ms), not the wait for a connection before it.
  assert.ok(Math.max(...attempts.map((a) => a.latencyMs ?? 0)) < 1000);
});

test("residency: a node of another region never POSTs a pinned tenant's events; a node of its region does", {
  timeout: 60_000,
}, async (t) => {
  const h = await webhookHarness(t, 'sqlite', { region: 'us' });
  await h.store.tenants.insert({
    id: TENANT,
    name: 'eu tenant',
    sandbox: false,
    maxMessageBytes: null,
    ratePerMinute: null,
    createdAt: h.clock.now(),
    dataRegion: 'eu',
  });
  const { secret } = await h.webhooks.endpoints.create(TENANT, { url: h.receiver.url });
  h.receiver.secrets.push(secret);
  await h.appendMessages(3, ['recipient.queued']);
  await h.pump();
  assert.equal(h.receiver.received.length, 0, 'the us node POSTed an eu tenant event');
  assert.equal(await h.webhooks.worker.tick(), 0);
  // Unpinned (or on an eu node) the same deliveries go.
  await h.store.tenants.update(TENANT, { dataRegion: null });
  await h.pump();
  assert.equal(h.receiver.accepted().length, 3);
});
