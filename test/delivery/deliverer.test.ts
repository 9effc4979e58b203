import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { test } from 'node:test';
import { fakeClock } from '../support/clock.js';
import { startDeliveryLab, waitUntil } from '../support/delivery-lab.js';
import { startPlatform } from '../support/platform.js';

test('the delivery rate behind time-to-drain counts the last minute and forgets older deliveries', async (t) => {
  const clock = fakeClock();
  const p = await startPlatform(t, { clock });
  for (let i = 0; i < 3; i++) {
    const res = await p.request('POST', '/v1/messages?mode=sync&wait_ms=5000', {
      from: 'a@example.com',
      to: [`x${i}@example.net`, `y${i}@example.net`],
      subject: 's',
      text: 't',
    });
    assert.equal(res.body.status, 'completed');
  }
  assert.equal(p.platform.deliverer.deliveredLastMinute(), 6);
  clock.advance(30_000);
  assert.equal(p.platform.deliverer.deliveredLastMinute(), 6);
  clock.advance(31_000);
  assert.equal(p.platform.deliverer.deliveredLastMinute(), 0);
});

/** One message to a remote that holds DATA for `delayMs` of real time, on a 5-s lease, until it is in flight. */
async function inFlightToSlowRemote(t: TestContext, delayMs: number) {
  const clock = fakeClock();
  const lab = await startDeliveryLab(t, { 'slow.test': { default: { delayMs, at: 'data' } } });
  const p = await startPlatform(t, {
    clock,
    config: { sandbox: false, ...lab.config, delivery: { ...lab.config.delivery, leaseSeconds: 5 } },
  });
  const sent = await p.request('POST', '/v1/messages', { from: 'a@example.com', to: 'r@slow.test', subject: 's', text: 't' });
  assert.equal(sent.status, 202);
  await waitUntil(
    'the recipient is in flight',
    async () => (await p.platform.spine.recipientsOf([sent.body.id]))[0]?.state === 'in_flight',
    5000,
  );
  return { clock, lab, p, sent };
}

test('a live node renews the leases of its in-flight recipients, so no other node takes them over', async (t) => {
  // The remote holds DATA for 3.5 s (real time) while the test moves the platform's clock past the
  // 5-s lease: only the heartbeat (every leaseMs / 3 of real time) keeps the recipient ours.
  const { clock, lab, p, sent } = await inFlightToSlowRemote(t, 3500);
  clock.advance(4000);
  await new Promise((r) => setTimeout(r, 2600));
  clock.advance(2000); // 6 s after the claim: the first lease has lapsed, a renewed one has not
  const stolen = await p.platform.store.recipients.claimDue({ owner: 'other-node', now: clock.now(), leaseMs: 5000, limit: 10 });
  assert.deepEqual(stolen, []);
  await waitUntil(
    'the recipient is delivered',
    async () => (await p.platform.spine.recipientsOf([sent.body.id]))[0]?.state === 'delivered',
    10_000,
  );
  assert.equal(lab.sinks.get('slow.test')!.messages.length, 1);
});

test('a node that lost its lease mid-delivery settles nothing: no state change, no event, the new owner decides', async (t) => {
  // The remote holds DATA for 2 s (real time); meanwhile the platform's clock passes the 5-s lease
  // at once, before any heartbeat, and another node claims the recipient. The first node's 250 then
  // comes too late: its settle must be refused and must append no event.
  const { clock, lab, p, sent } = await inFlightToSlowRemote(t, 2000);
  clock.advance(60_000);
  const stolen = await p.platform.store.recipients.claimDue({ owner: 'other-node', now: clock.now(), leaseMs: 600_000, limit: 10 });
  assert.equal(stolen.length, 1);
  await lab.sinks.get('slow.test')!.waitFor(1, 10_000);
  await new Promise((r) => setTimeout(r, 500)); // the first node's settle (10 ms linger) has run
  const [row] = await p.platform.spine.recipientsOf([sent.body.id]);
  assert.equal(row?.state, 'in_flight', 'the stale settle changed nothing');
  const events = (await p.request('GET', `/v1/messages/${sent.body.id}`)).body.events.map((e: { type: string }) => e.type);
  assert.ok(!events.includes('recipient.delivered'), `no event from the stale settle: ${events.join(', ')}`);
  assert.equal(
    await p.platform.store.recipients.settle({ id: stolen[0]!.id, owner: 'other-node', state: 'delivered', now: clock.now() }),
    true,
  );
});
