import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Config, DeepPartial } from '../../src/config/index.js';
import type { Clock } from '../../src/core/index.js';
import { fakeClock } from '../support/clock.js';
import { startDeliveryLab } from '../support/delivery-lab.js';
import { startPlatform, type TestPlatform } from '../support/platform.js';
import type { SinkBehaviour, SmtpSink } from '../support/smtp-sink.js';

/**
 * Done-means 6 of issue 24: cancel while queued, while deferred and after delivery; a cancelled
 * recipient never reaches the receiving server afterwards; a recipient in flight is refused.
 */
async function lab(
  t: Parameters<typeof startPlatform>[0],
  behaviour: SinkBehaviour,
  opts: { clock?: Clock; config?: DeepPartial<Config> } = {},
) {
  const l = await startDeliveryLab(t, { 'dest.test': behaviour });
  const p = await startPlatform(t, {
    clock: opts.clock,
    config: {
      sandbox: false,
      dns: l.config.dns,
      ...opts.config,
      delivery: { ...l.config.delivery, retryMinutes: [10], commandTimeoutMs: 5000, dataTimeoutMs: 5000, ...opts.config?.delivery },
    },
  });
  return { p, sink: l.sinks.get('dest.test')! };
}

const send = (to: string[]) => ({ from: 'hello@example.com', to, subject: 'Order', text: 'Your order' });

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (let i = 0; i < 10_000; i++) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function stateOf(p: TestPlatform, messageId: string, email: string): Promise<string> {
  const view = await p.request('GET', `/v1/messages/${messageId}`);
  return view.body.recipients.find((r: { email: string }) => r.email === email).state;
}

const received = (sink: SmtpSink) => sink.messages.flatMap((m) => m.to);

test('cancel while queued: the named recipient is cancelled with an event and never delivered; the other is', async (t) => {
  // Only the API runs at first, so the recipients stay queued until the test starts delivery.
  const { p, sink } = await lab(t, {}, { config: { server: { roles: ['api'] } } });
  const sent = await p.request('POST', '/v1/messages', send(['ann@dest.test', 'bob@dest.test']));
  assert.equal(sent.status, 202);
  const ann = sent.body.recipients.find((r: { email: string }) => r.email === 'ann@dest.test');

  const res = await p.request('POST', `/v1/messages/${sent.body.id}/cancel`, { recipients: [ann.id], reason: 'order withdrawn' });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.message_id, sent.body.id);
  assert.deepEqual(
    res.body.cancelled.map((r: { email: string; state: string }) => [r.email, r.state]),
    [['ann@dest.test', 'cancelled']],
  );
  assert.deepEqual(res.body.unchanged, []);

  // Again: nothing changes, and no second event.
  const again = await p.request('POST', `/v1/messages/${sent.body.id}/cancel`, { recipients: ['ANN@dest.test'] });
  assert.equal(again.status, 200);
  assert.deepEqual(again.body.cancelled, []);
  assert.equal(again.body.unchanged[0].state, 'cancelled');

  p.platform.deliverer.start();
  await until('bob delivered', async () => ((await stateOf(p, sent.body.id, 'bob@dest.test')) === 'delivered' ? true : undefined));
  assert.deepEqual(received(sink), ['bob@dest.test']);
  assert.equal(await stateOf(p, sent.body.id, 'ann@dest.test'), 'cancelled');
  const view = await p.request('GET', `/v1/messages/${sent.body.id}`);
  const cancelled = view.body.events.filter((e: { type: string }) => e.type === 'recipient.cancelled');
  assert.equal(cancelled.length, 1);
  assert.equal(cancelled[0].recipient_id, ann.id);
  assert.deepEqual(
    { ...cancelled[0].data, api_key: undefined },
    { email: 'ann@dest.test', previous_state: 'queued', attempts: 0, reason: 'order withdrawn', api_key: undefined },
  );
  assert.equal(view.body.state, 'completed');
});

test('a scheduled send waits until send_at; cancelled before then, it never reaches the sink', async (t) => {
  const clock = fakeClock();
  const { p, sink } = await lab(t, {}, { clock });
  const at = (ms: number) => new Date(clock.now() + ms).toISOString();
  const later = await p.request('POST', '/v1/messages', { ...send(['ann@dest.test']), send_at: at(3_600_000) });
  const cancelMe = await p.request('POST', '/v1/messages', { ...send(['bob@dest.test']), send_at: at(3_600_000) });
  assert.equal(later.status, 202, JSON.stringify(later.body));
  const view = await p.request('GET', `/v1/messages/${later.body.id}`);
  assert.equal(view.body.recipients[0].next_attempt_at, at(3_600_000));
  const queued = view.body.events.find((e: { type: string }) => e.type === 'recipient.queued');
  assert.equal(queued.data.send_at, at(3_600_000));

  const res = await p.request('POST', `/v1/messages/${cancelMe.body.id}/cancel`, { reason: 'changed my mind' });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.cancelled[0].state, 'cancelled');

  clock.advance(2 * 3_600_000);
  await until('the scheduled send delivered', async () =>
    (await stateOf(p, later.body.id, 'ann@dest.test')) === 'delivered' ? true : undefined,
  );
  assert.deepEqual(received(sink), ['ann@dest.test'], 'the cancelled scheduled send never arrived');

  const tooFar = await p.request('POST', '/v1/messages', { ...send(['cy@dest.test']), send_at: at(31 * 86_400_000) });
  assert.equal(tooFar.status, 422);
  assert.deepEqual(tooFar.body.errors, [{ path: '/send_at', message: 'must be at most 30 days ahead (limits.maxScheduleDays)' }]);
  const noOffset = await p.request('POST', '/v1/messages', { ...send(['cy@dest.test']), send_at: '2026-11-23T10:00:00' });
  assert.equal(noOffset.status, 422);
  assert.equal(noOffset.body.errors[0].path, '/send_at');
});

test('cancel while deferred: the whole message is cancelled and the retry never reaches the sink', async (t) => {
  const clock = fakeClock();
  const { p, sink } = await lab(t, { default: { deferTimes: 1 } }, { clock });
  const sent = await p.request('POST', '/v1/messages', send(['ann@dest.test', 'bob@dest.test']));
  assert.equal(sent.status, 202);
  for (const email of ['ann@dest.test', 'bob@dest.test']) {
    await until(`${email} deferred`, async () => ((await stateOf(p, sent.body.id, email)) === 'deferred' ? true : undefined));
  }

  const res = await p.request('POST', `/v1/messages/${sent.body.id}/cancel`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.deepEqual(res.body.cancelled.map((r: { state: string }) => r.state).sort(), ['cancelled', 'cancelled']);

  // The retry was due in 10 minutes; past it, the scheduler finds nothing to send. A probe sent
  // afterwards is deferred and then delivered, so the scheduler did run past the cancelled retries.
  clock.advance(30 * 60_000);
  const probe = await p.request('POST', '/v1/messages', send(['cy@dest.test']));
  await until('the probe deferred', async () => ((await stateOf(p, probe.body.id, 'cy@dest.test')) === 'deferred' ? true : undefined));
  clock.advance(30 * 60_000);
  await until('the probe delivered', async () => ((await stateOf(p, probe.body.id, 'cy@dest.test')) === 'delivered' ? true : undefined));
  assert.deepEqual(received(sink), ['cy@dest.test'], 'only the message sent after the cancel arrived');
  const view = await p.request('GET', `/v1/messages/${sent.body.id}`);
  assert.deepEqual(
    view.body.recipients.map((r: { state: string }) => r.state),
    ['cancelled', 'cancelled'],
  );
  const types = view.body.events.map((e: { type: string; data: { previous_state?: string } }) => [e.type, e.data.previous_state]);
  assert.deepEqual(
    types.filter(([type]: string[]) => type === 'recipient.cancelled'),
    [
      ['recipient.cancelled', 'deferred'],
      ['recipient.cancelled', 'deferred'],
    ],
  );
});

test('cancel after delivery is refused with 409 naming each recipient and its state', async (t) => {
  const { p } = await lab(t, {});
  const sent = await p.request('POST', '/v1/messages', send(['ann@dest.test']));
  await until('delivered', async () => ((await stateOf(p, sent.body.id, 'ann@dest.test')) === 'delivered' ? true : undefined));

  const whole = await p.request('POST', `/v1/messages/${sent.body.id}/cancel`, {});
  assert.equal(whole.status, 409);
  assert.equal(whole.headers.get('content-type'), 'application/problem+json; charset=utf-8');
  assert.equal(whole.body.code, 'NOT_CANCELLABLE');
  assert.match(whole.body.detail, /ann@dest\.test\) is delivered: it was already delivered/);
  assert.deepEqual(whole.body.recipients, [
    { id: sent.body.recipients[0].id, email: 'ann@dest.test', state: 'delivered', reason: 'it was already delivered' },
  ]);

  const named = await p.request('POST', `/v1/messages/${sent.body.id}/cancel`, { recipients: ['ann@dest.test'] });
  assert.equal(named.status, 409);
  assert.deepEqual(named.body.errors, [{ path: '/recipients/0', message: 'is delivered: it was already delivered' }]);
  assert.equal(await stateOf(p, sent.body.id, 'ann@dest.test'), 'delivered');
});

test('a recipient a delivery attempt holds is refused as in_flight, and nothing else is cancelled', async (t) => {
  const { p, sink } = await lab(t, { recipients: [{ match: 'slow@dest.test', at: 'data', delayMs: 1500 }] });
  const sent = await p.request('POST', '/v1/messages', send(['slow@dest.test']));
  await until('in flight', async () => ((await stateOf(p, sent.body.id, 'slow@dest.test')) === 'in_flight' ? true : undefined));
  const res = await p.request('POST', `/v1/messages/${sent.body.id}/cancel`);
  assert.equal(res.status, 409);
  assert.equal(res.body.recipients[0].state, 'in_flight');
  assert.match(res.body.recipients[0].reason, /delivery attempt holds it/);
  await until('delivered', async () => ((await stateOf(p, sent.body.id, 'slow@dest.test')) === 'delivered' ? true : undefined));
  assert.deepEqual(received(sink), ['slow@dest.test'], 'delivered exactly once');
});

test('unknown recipients and messages are named: 422 with the path, 404 for another message', async (t) => {
  const { p } = await lab(t, {}, { config: { server: { roles: ['api'] } } });
  const sent = await p.request('POST', '/v1/messages', send(['ann@dest.test']));
  const res = await p.request('POST', `/v1/messages/${sent.body.id}/cancel`, { recipients: ['ann@dest.test', 'zed@dest.test'] });
  assert.equal(res.status, 422);
  assert.deepEqual(
    res.body.errors.map((e: { path: string }) => e.path),
    ['/recipients/1'],
  );
  assert.equal(await stateOf(p, sent.body.id, 'ann@dest.test'), 'queued', 'nothing changed');
  const missing = await p.request('POST', '/v1/messages/msg_01JD4Z9X0000000000000000/cancel', {});
  assert.equal(missing.status, 404);
});

test('PATCH replaces tags and merges metadata, recorded as message.updated', async (t) => {
  const { p } = await lab(t, {}, { config: { server: { roles: ['api'] } } });
  const sent = await p.request('POST', '/v1/messages', {
    ...send(['ann@dest.test']),
    tags: ['draft'],
    metadata: { order: '1', step: 'a' },
  });
  const res = await p.request('PATCH', `/v1/messages/${sent.body.id}`, {
    tags: ['invoice', 'paid'],
    metadata: { step: null, paid_at: '2026-11-23' },
  });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.deepEqual(res.body.tags, ['invoice', 'paid']);
  assert.deepEqual(res.body.metadata, { order: '1', paid_at: '2026-11-23' });
  const view = await p.request('GET', `/v1/messages/${sent.body.id}`);
  assert.deepEqual(view.body.tags, ['invoice', 'paid']);
  const updated = view.body.events.find((e: { type: string }) => e.type === 'message.updated');
  assert.deepEqual(updated.data.previous, { tags: ['draft'], metadata: { order: '1', step: 'a' } });
  assert.deepEqual(updated.data.metadata, { order: '1', paid_at: '2026-11-23' });

  const bad = await p.request('PATCH', `/v1/messages/${sent.body.id}`, { tags: ['no spaces allowed'] });
  assert.equal(bad.status, 422);
  assert.deepEqual(
    bad.body.errors.map((e: { path: string }) => e.path),
    ['/tags/0'],
  );
  const empty = await p.request('PATCH', `/v1/messages/${sent.body.id}`, {});
  assert.equal(empty.status, 422);
});
