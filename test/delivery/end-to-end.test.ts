import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startDnsServer } from '../support/dns-server.js';
import { startPlatform } from '../support/platform.js';
import { startSmtpSink } from '../support/smtp-sink.js';

/**
 * Done-means 1 of the delivery engine: 1,000 messages to three domains on loopback sinks. a.test
 * accepts; b.test defers every recipient twice, then accepts; c.test rejects some recipients with
 * 550 5.1.1. Every recipient ends in exactly one terminal state with the right events, and each
 * sink saw each accepted message exactly once.
 */
test('1,000 messages to three destinations end in exactly one terminal state each, seen once by the sinks', {
  timeout: 180_000,
}, async (t) => {
  const a = await startSmtpSink(t, { record: 'full' });
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
    },
  });

  const domains = ['a.test', 'b.test', 'c.test'];
  const rcpt = (i: number) => `${i % 3 === 2 && i % 5 === 0 ? 'bad' : 'user'}${i}@${domains[i % 3]}`;
  for (let batch = 0; batch < 2; batch++) {
    const messages = Array.from({ length: 500 }, (_, j) => {
      const i = batch * 500 + j;
      return { from: 'sender@example.com', to: rcpt(i), subject: `m${i}`, text: `message ${i}` };
    });
    const res = await p.request('POST', '/v1/messages/batch', { messages });
    assert.equal(res.status, 202);
    assert.equal(res.body.accepted, 500);
  }

  const store = p.platform.store;
  for (let i = 0; i < 1200 && (await store.recipients.countOpen()) > 0; i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal(await store.recipients.countOpen(), 0, 'every recipient reached a terminal state');

  const events = await store.events.page({ limit: 100_000 });
  const byRecipient = new Map<string, string[]>();
  for (const e of events) if (e.recipientId) byRecipient.set(e.recipientId, [...(byRecipient.get(e.recipientId) ?? []), e.type]);
  const terminal = new Set(['recipient.delivered', 'recipient.bounced', 'recipient.expired', 'recipient.failed', 'recipient.suppressed']);
  let delivered = 0;
  let bounced = 0;
  for (const [id, types] of byRecipient) {
    const ends = types.filter((x) => terminal.has(x));
    assert.equal(ends.length, 1, `recipient ${id} has exactly one terminal event: ${types.join(', ')}`);
    if (ends[0] === 'recipient.delivered') delivered++;
    if (ends[0] === 'recipient.bounced') bounced++;
  }
  assert.equal(byRecipient.size, 1000);

  const expectBad = Array.from({ length: 1000 }, (_, i) => rcpt(i)).filter((r) => r.startsWith('bad')).length;
  assert.equal(bounced, expectBad);
  assert.equal(delivered, 1000 - expectBad);

  // b.test deferred each recipient exactly twice before accepting. A deferral delivery made itself
  // without an attempt (its breaker or pace for the site: `local_throttle`) is not b.test's answer.
  const bDeferrals = events.filter(
    (e) => e.type === 'recipient.deferred' && String(e.data.email).endsWith('@b.test') && !e.data.local_throttle,
  );
  const bCount = Array.from({ length: 1000 }, (_, i) => rcpt(i)).filter((r) => r.endsWith('@b.test')).length;
  assert.equal(bDeferrals.length, bCount * 2);
  const bounce = events.find((e) => e.type === 'recipient.bounced');
  assert.equal(bounce?.data.category, 'bad_mailbox');
  assert.equal(bounce?.data.code, 550);

  // Each sink saw each accepted message exactly once.
  for (const [sink, domain] of [
    [a, 'a.test'],
    [b, 'b.test'],
    [c, 'c.test'],
  ] as const) {
    const seen = sink.messages.flatMap((m) => m.to);
    assert.equal(new Set(seen).size, seen.length, `${domain}: no recipient was delivered twice`);
    const expected = Array.from({ length: 1000 }, (_, i) => rcpt(i)).filter((r) => r.endsWith(`@${domain}`) && !r.startsWith('bad'));
    assert.deepEqual(new Set(seen), new Set(expected), `${domain}: every accepted recipient arrived`);
  }
  const delivery = events.find((e) => e.type === 'recipient.delivered' && String(e.data.email).endsWith('@a.test'));
  assert.equal(delivery?.data.mx, 'mx.a.test');
  assert.ok(delivery?.data.tls, 'TLS evidence is recorded (the sink offers STARTTLS)');
});
