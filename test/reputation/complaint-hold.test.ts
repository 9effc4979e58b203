import assert from 'node:assert/strict';
import { test } from 'node:test';
import { arf, type Sent, verpOf } from '../feedback/documents.js';
import { fakeClock } from '../support/clock.js';
import { startDeliveryLab, waitUntil } from '../support/delivery-lab.js';
import { deliverToMx } from '../support/mx-client.js';
import { startPlatform } from '../support/platform.js';

/**
 * Done-means 2 of issue #16: a complaint spike in the cold lane. Cold mail and transactional mail of
 * one domain go to one provider from their own pools (127.0.0.3 and 127.0.0.2). An ARF complaint
 * arrives through the inbound MX; the ledger's rule `cold-complaint-pause` (rules/pacing.yaml) holds
 * the cold stream at that provider, on the fake clock well inside five minutes of the complaint,
 * with a `reputation.changed` event naming the rule. The next cold message waits (deferred, not
 * attempted, `local_throttle: held`) while transactional mail to the same provider keeps flowing
 * from its own pool.
 */
test('a complaint in the cold lane holds the cold identity at the provider; transactional keeps flowing', {
  timeout: 60_000,
}, async (t) => {
  const clock = fakeClock(Date.UTC(2026, 11, 6, 9, 0, 0));
  const lab = await startDeliveryLab(t, { 'a.test': {} });
  const sink = lab.sinks.get('a.test')!;
  const p = await startPlatform(t, {
    clock,
    config: {
      sandbox: false,
      dns: lab.config.dns,
      delivery: {
        ...lab.config.delivery,
        retryMinutes: [60],
        pools: {
          tx: { sourceAddresses: ['127.0.0.2'], ehloName: 'tx.pw.test', streams: ['transactional'] },
          cold: { sourceAddresses: ['127.0.0.3'], ehloName: 'cold.pw.test', streams: ['cold'] },
        },
      },
      reputation: { pollMs: 50 },
    },
  });
  const store = p.platform.store;
  const send = async (stream: string, to: string): Promise<Sent> => {
    const res = await p.request('POST', '/v1/messages', {
      from: 'hello@example.com',
      to,
      subject: stream,
      text: `a ${stream} message`,
      stream,
    });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    await waitUntil(`${to} final`, async () => (await store.recipients.countOpen()) === 0, 10_000);
    const view = (await p.request('GET', `/v1/messages/${res.body.id}`)).body;
    return { id: res.body.id, messageIdHeader: view.message_id_header, recipients: view.recipients };
  };

  const first = await send('cold', 'lead1@a.test');
  await send('transactional', 'reset1@a.test');
  assert.equal(sink.messages.find((m) => m.to[0] === 'lead1@a.test')?.remoteAddress, '127.0.0.3');

  // The complaint, a minute later, through the MX.
  clock.advance(60_000);
  const complainedAt = clock.now();
  const mx = await deliverToMx(
    p.mxPort,
    'fbl@pw.test',
    arf(first, verpOf(p, first, 'lead1@a.test'), 'lead1@a.test'),
    'fbl@fbl.example.net',
  );
  assert.ok(mx.ok, mx.response);
  await waitUntil('the ledger holds the cold stream', async () => (await store.reputation.activeHolds(clock.now())).length > 0, 10_000);
  const [hold] = await store.reputation.activeHolds(clock.now());
  assert.deepEqual(
    { stream: hold!.stream, domain: hold!.domain, pool: hold!.pool, rule: hold!.rule },
    { stream: 'cold', domain: 'example.com', pool: 'cold', rule: 'cold-complaint-pause' },
  );
  assert.ok(hold!.since - complainedAt <= 5 * 60_000, 'held within five minutes of the complaint');
  assert.equal(hold!.until - hold!.since, 3 * 86_400_000, 'recovery takes days (rules/pacing.yaml)');
  const changed = (await store.events.page({ after: 0, limit: 1000, types: ['reputation.changed'] })).map((e) => e.data);
  const paused = changed.find((d) => d.state === 'paused');
  assert.ok(paused, JSON.stringify(changed));
  assert.deepEqual([paused.stream, paused.rule, paused.count], ['cold', 'cold-complaint-pause', 1]);
  assert.equal(paused.paused_until, new Date(hold!.until).toISOString());
  assert.ok(!changed.some((d) => d.stream === 'transactional' && d.state === 'paused'), 'transactional is never held');

  // Delivery reads the holds every few seconds of its clock.
  clock.advance(10_000);
  const coldRes = await p.request('POST', '/v1/messages', {
    from: 'hello@example.com',
    to: 'lead2@a.test',
    subject: 'cold',
    text: 'x',
    stream: 'cold',
  });
  assert.equal(coldRes.status, 202);
  const txRes = await p.request('POST', '/v1/messages', {
    from: 'hello@example.com',
    to: 'reset2@a.test',
    subject: 'tx',
    text: 'x',
    stream: 'transactional',
  });
  assert.equal(txRes.status, 202);
  await waitUntil('the transactional message arrived', async () => sink.messages.some((m) => m.to[0] === 'reset2@a.test'), 10_000);
  await waitUntil(
    'the cold message waits',
    async () =>
      (await store.events.page({ after: 0, limit: 1000, types: ['recipient.deferred'] })).some((e) => e.data.email === 'lead2@a.test'),
    10_000,
  );
  const deferred = (await store.events.page({ after: 0, limit: 1000, types: ['recipient.deferred'] })).find(
    (e) => e.data.email === 'lead2@a.test',
  )!;
  assert.equal(deferred.data.local_throttle, 'held');
  assert.equal(sink.messages.filter((m) => m.to[0] === 'lead2@a.test').length, 0, 'the held cold mail did not leave');
  assert.equal(sink.messages.find((m) => m.to[0] === 'reset2@a.test')?.remoteAddress, '127.0.0.2', 'transactional flows from its own pool');

  // Visible to operators: the hold on GET /v1/delivery/health, the paused key on GET /v1/reputation.
  const health = await p.request('GET', '/v1/delivery/health');
  assert.equal(health.status, 200, JSON.stringify(health.body));
  assert.deepEqual(
    health.body.holds.map((h: { stream: string; rule: string }) => [h.stream, h.rule]),
    [['cold', 'cold-complaint-pause']],
  );
  const rep = await p.request('GET', '/v1/reputation');
  assert.equal(rep.status, 200, JSON.stringify(rep.body));
  const states = Object.fromEntries(rep.body.data.map((e: { stream: string; state: string }) => [e.stream, e.state]));
  assert.equal(states.cold, 'paused');
  assert.notEqual(states.transactional, 'paused');
});
