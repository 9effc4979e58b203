import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startDeliveryLab, waitUntil } from '../support/delivery-lab.js';
import { startPlatform } from '../support/platform.js';

/**
 * Done-means 4 of issue 16: egress pools on loopback. Two pools bound to 127.0.0.2 and 127.0.0.3,
 * one per lane; the sink sees each stream arrive from its own address and EHLO name, and the pool
 * and source address are on every delivery event and attempt row. Isolation: with the marketing
 * pool paused at the site, marketing mail waits (deferred without spending an attempt) instead of
 * leaving from the transactional pool, while transactional mail keeps flowing.
 */
test('each stream leaves from its own pool and address, recorded on events and attempt rows, and never borrows another lane', {
  timeout: 60_000,
}, async (t) => {
  const lab = await startDeliveryLab(t, { 'a.test': {} });
  const sink = lab.sinks.get('a.test')!;
  const p = await startPlatform(t, {
    config: {
      sandbox: false,
      dns: lab.config.dns,
      delivery: {
        ...lab.config.delivery,
        retryMinutes: [60],
        pools: {
          tx: { sourceAddresses: ['127.0.0.2'], ehloName: 'tx.pw.test', streams: ['transactional'] },
          bulk: { sourceAddresses: ['127.0.0.3'], ehloName: 'bulk.pw.test', streams: ['marketing', 'cold'] },
        },
      },
    },
  });
  const send = async (stream: string, to: string) => {
    const res = await p.request('POST', '/v1/messages', {
      from: 'sender@example.com',
      to,
      subject: stream,
      text: `a ${stream} message`,
      stream,
    });
    assert.equal(res.status, 202, JSON.stringify(res.body));
  };
  await send('transactional', 'tx1@a.test');
  await send('marketing', 'news1@a.test');
  const got = await sink.waitFor(2, 20_000);
  const by = new Map(got.map((m) => [m.to[0], m]));
  assert.equal(by.get('tx1@a.test')?.remoteAddress, '127.0.0.2');
  assert.equal(by.get('tx1@a.test')?.heloName, 'tx.pw.test');
  assert.equal(by.get('news1@a.test')?.remoteAddress, '127.0.0.3');
  assert.equal(by.get('news1@a.test')?.heloName, 'bulk.pw.test');

  const store = p.platform.store;
  await waitUntil('both delivered', async () => (await store.recipients.countOpen()) === 0, 10_000);
  const delivered = (await store.events.page({ limit: 1000 })).filter((e) => e.type === 'recipient.delivered');
  assert.equal(delivered.length, 2);
  for (const e of delivered) {
    const tx = String(e.data.email).startsWith('tx');
    assert.equal(e.data.pool, tx ? 'tx' : 'bulk');
    assert.equal(e.data.source_address, tx ? '127.0.0.2' : '127.0.0.3');
    const rows = await store.tlsAttempts.listForRecipient(e.recipientId!);
    assert.ok(rows.length >= 1, 'an attempt row per delivery');
    for (const row of rows) {
      assert.equal(row.pool, tx ? 'tx' : 'bulk');
      assert.equal(row.sourceAddress, tx ? '127.0.0.2' : '127.0.0.3');
    }
  }

  // Isolation under pressure: the bulk pool is paused at the site; marketing waits, transactional flows.
  const paused = await p.request('POST', '/v1/delivery/health/mx.a.test/pause', { reason: 'isolation test', pool: 'bulk' });
  assert.equal(paused.status, 200, JSON.stringify(paused.body));
  assert.deepEqual(
    (paused.body as { overrides: { target: string; pool: string }[] }).overrides.map((o) => [o.target, o.pool]),
    [['mx.a.test', 'bulk']],
  );
  await send('marketing', 'news2@a.test');
  await send('transactional', 'tx2@a.test');
  await sink.waitFor(3, 20_000);
  await waitUntil(
    'news2 deferred',
    async () => {
      const events = await store.events.page({ limit: 1000 });
      return events.some((e) => e.type === 'recipient.deferred' && e.data.email === 'news2@a.test');
    },
    10_000,
  );
  const events = await store.events.page({ limit: 1000 });
  const held = events.find((e) => e.type === 'recipient.deferred' && e.data.email === 'news2@a.test')!;
  assert.equal(held.data.local_throttle, 'paused');
  assert.equal(held.data.pool, 'bulk');
  assert.equal(held.data.source_address, null);
  assert.equal(sink.messages.filter((m) => m.to[0] === 'news2@a.test').length, 0, 'marketing never left from the transactional pool');
  assert.equal(sink.messages.find((m) => m.to[0] === 'tx2@a.test')?.remoteAddress, '127.0.0.2');

  // The override is an event naming the key that made it and its reason.
  const override = events.find((e) => e.type === 'pacing.changed');
  assert.ok(override, 'the pause is a pacing.changed event');
  assert.equal(override.data.change, 'pause');
  assert.equal(override.data.rule, 'override');
  assert.equal(override.data.reason, 'isolation test');
  assert.equal(override.data.pool, 'bulk');
  assert.match(String(override.data.actor), /^key_/);
});
