import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startDnsServer } from '../support/dns-server.js';
import { startPlatform } from '../support/platform.js';
import { startSmtpSink } from '../support/smtp-sink.js';
import { startWebhookReceiver } from '../support/webhook-receiver.js';
import { orderViolation, receivedEvents } from './webhook-harness.js';

/**
 * Done-means 1 of issue 15: 1,000 messages to sinks that accept (a.test), defer twice then accept
 * (b.test) and bounce some recipients (c.test); a loopback receiver verifies every POST with the
 * standardwebhooks package and gets every event of the tenant once, in per-message order.
 */
test('1,000 messages to accepting, deferring and bouncing sinks: every event reaches the receiver, verified, in per-message order', {
  timeout: 240_000,
}, async (t) => {
  const a = await startSmtpSink(t, {});
  const b = await startSmtpSink(t, { default: { deferTimes: 2 } });
  const c = await startSmtpSink(t, {
    recipients: [{ match: (addr) => addr.startsWith('bad'), reply: { code: 550, enhanced: '5.1.1', text: 'no such user' } }],
  });
  const dns = await startDnsServer(t, {
    'a.test': { MX: [{ priority: 10, exchange: 'mx.a.test' }] },
    'b.test': { MX: [{ priority: 10, exchange: 'mx.b.test' }] },
    'c.test': { MX: [{ priority: 10, exchange: 'mx.c.test' }] },
    'mx.a.test': { A: ['127.0.0.1'] },
    'mx.b.test': { A: ['127.0.0.1'] },
    'mx.c.test': { A: ['127.0.0.1'] },
  });
  const receiver = await startWebhookReceiver(t);
  const p = await startPlatform(t, {
    config: {
      sandbox: false,
      dns: { servers: [dns.address], timeoutMs: 1000 },
      delivery: {
        portMap: { 'mx.a.test': a.port, 'mx.b.test': b.port, 'mx.c.test': c.port },
        retryMinutes: [0.001],
        concurrency: 64,
        commandTimeoutMs: 5000,
        dataTimeoutMs: 5000,
      },
      webhooks: { allowPrivateTargets: true, pollMs: 20 },
    },
  });
  const hook = await p.request('POST', '/v1/webhooks', { url: receiver.url });
  assert.equal(hook.status, 201);
  receiver.secrets.push(hook.body.secret);

  const domains = ['a.test', 'b.test', 'c.test'];
  const rcpt = (i: number) => `${i % 3 === 2 && i % 5 === 0 ? 'bad' : 'user'}${i}@${domains[i % 3]}`;
  for (let batch = 0; batch < 2; batch++) {
    const messages = Array.from({ length: 500 }, (_, j) => {
      const i = batch * 500 + j;
      return { from: 'sender@example.com', to: rcpt(i), subject: `m${i}`, text: `message ${i}` };
    });
    const res = await p.request('POST', '/v1/messages/batch', { messages });
    assert.equal(res.status, 202);
  }
  const store = p.platform.store;
  for (let i = 0; i < 1800 && (await store.recipients.countOpen()) > 0; i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal(await store.recipients.countOpen(), 0, 'every recipient reached a terminal state');
  const events = await store.events.page({ tenantId: p.tenantId, limit: 100_000 });
  for (let i = 0; i < 1200 && receivedEvents(receiver).length < events.length; i++) await new Promise((r) => setTimeout(r, 100));

  const got = receivedEvents(receiver);
  assert.equal(got.length, events.length, 'each event received once');
  assert.deepEqual(new Set(got.map((e) => e.id)), new Set(events.map((e) => e.id)));
  assert.ok(
    receiver.received.every((r) => r.verifiedBy.length === 1),
    'every POST verified by standardwebhooks',
  );
  assert.equal(orderViolation(receiver), undefined);
  // Per message, the receipt order is the spine's order.
  const seqs = new Map<string, number[]>();
  for (const e of got) if (e.message_id) seqs.set(e.message_id, [...(seqs.get(e.message_id) ?? []), e.seq]);
  for (const [m, s] of seqs)
    assert.deepEqual(
      s,
      [...s].sort((x, y) => x - y),
      m,
    );
  const types = new Set(got.map((e) => e.type));
  for (const ty of ['message.accepted', 'recipient.queued', 'recipient.deferred', 'recipient.delivered', 'recipient.bounced'])
    assert.ok(types.has(ty), `${ty} was among the events`);
  t.diagnostic(`${got.length} events for 1,000 messages, all verified and in order`);
});
