import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  createBreaker,
  createDeliveryPolicy,
  createEgressPools,
  createPacingController,
  createShaper,
  loadPacingRules,
} from '../../src/delivery/index.js';
import { fakeClock } from '../support/clock.js';
import { startDeliveryLab, waitUntil } from '../support/delivery-lab.js';
import { startPlatform } from '../support/platform.js';

/**
 * Issue 21: a classification policy's `pool` routes the message (docs/classification.md). Two pools
 * on loopback, `tx` bound to 127.0.0.2 for the transactional stream and `secure` bound to
 * 127.0.0.3 that no stream names; a `pci` policy names `secure`. A transactional message carrying a
 * card number leaves from 127.0.0.3 and its delivery event names the pool and the rule; one without
 * stays in its stream's lane.
 */
test('a pci message leaves from its policy pool, and the delivery record names the rule', { timeout: 60_000 }, async (t) => {
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
          secure: { sourceAddresses: ['127.0.0.3'], ehloName: 'secure.pw.test', streams: [] },
        },
      },
    },
  });
  const put = await p.request('PUT', '/v1/classification/rules', {
    policies: [{ id: 'pci-secure-pool', classification: 'pci', pool: 'secure' }],
  });
  assert.equal(put.status, 200, JSON.stringify(put.body));
  const send = async (to: string, text: string) => {
    const res = await p.request('POST', '/v1/messages', { from: 'sender@example.com', to, subject: 'receipt', text });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    return res.body.id as string;
  };
  const pci = await send('card@a.test', 'Card 4111 1111 1111 1111 charged.');
  const plain = await send('plain@a.test', 'Thanks for your order.');

  const got = await sink.waitFor(2, 20_000);
  const by = new Map(got.map((m) => [m.to[0], m]));
  assert.equal(by.get('card@a.test')?.remoteAddress, '127.0.0.3');
  assert.equal(by.get('card@a.test')?.heloName, 'secure.pw.test');
  assert.equal(by.get('plain@a.test')?.remoteAddress, '127.0.0.2', 'unclassified mail keeps its stream lane');

  const store = p.platform.store;
  await waitUntil('both delivered', async () => (await store.recipients.countOpen()) === 0, 10_000);
  const delivered = async (id: string) => {
    const e = (await store.events.page({ messageId: id, limit: 20 })).find((x) => x.type === 'recipient.delivered');
    assert.ok(e, `${id} delivered`);
    return e.data;
  };
  const card = await delivered(pci);
  assert.equal(card.pool, 'secure');
  assert.equal(card.pool_rule, 'pci-secure-pool');
  assert.equal(card.source_address, '127.0.0.3');
  const other = await delivered(plain);
  assert.equal(other.pool, 'tx');
  assert.equal(other.pool_rule, undefined);

  const message = await p.request('GET', `/v1/messages/${pci}`);
  assert.equal(message.body.classification.pool, 'secure');
  assert.equal(message.body.classification.pool_rule, 'pci-secure-pool');
  assert.doesNotMatch(JSON.stringify({ card, message: message.body.classification }), /4111/, 'the rule is recorded, never the number');
});

test('a policy pool waits when paused instead of borrowing the lane; an unconfigured one falls back to the lane, said once', async () => {
  const clock = fakeClock();
  const warnings: object[] = [];
  const policy = createDeliveryPolicy({
    clock,
    pools: createEgressPools({
      pools: {
        tx: { sourceAddresses: ['127.0.0.2'], streams: ['transactional'] },
        secure: { sourceAddresses: ['127.0.0.3'] },
      },
      defaultSourceAddresses: [],
      ehloName: 'pw.test',
    }),
    breaker: createBreaker({ clock }),
    shaper: createShaper({ clock, rules: { default: { maxConnections: 10, maxMessagesPerConnection: 100, perSecond: 0, perMinute: 0 } } }),
    pacing: createPacingController({ clock, rules: loadPacingRules(), enabled: false, emit: () => {} }),
    log: { warn: (obj) => warnings.push(obj) },
  });
  const request = { site: 'mx.a.test', provider: undefined, stream: 'transactional', tenantId: 'ten_1' };
  const pinned = { ...request, policyPool: { pool: 'secure', rule: 'pci-secure-pool' } };

  const a = await policy.admit(pinned);
  assert.deepEqual([a.ok, a.lane.pool, a.lane.sourceAddress, a.lane.rule], [true, 'secure', '127.0.0.3', 'pci-secure-pool']);
  await policy.pause({ target: 'mx.a.test', pool: 'secure', reason: 'test', actor: 'key_1', tenantId: 'ten_1' });
  const waiting = await policy.admit(pinned);
  assert.deepEqual([waiting.ok, waiting.lane.pool, waiting.ok ? null : waiting.throttle], [false, 'secure', 'paused']);
  assert.equal((await policy.admit(request)).lane.pool, 'tx', 'the stream lane is not paused');

  const unknown = { ...request, policyPool: { pool: 'nowhere', rule: 'pci-nowhere' } };
  const fallback = await policy.admit(unknown);
  assert.deepEqual([fallback.ok, fallback.lane.pool, fallback.lane.rule], [true, 'tx', undefined]);
  await policy.admit(unknown);
  assert.equal(warnings.length, 1);
  assert.equal((warnings[0] as { pool: string }).pool, 'nowhere');
});
