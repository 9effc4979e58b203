import assert from 'node:assert/strict';
import { test } from 'node:test';
import { storeBackedMtaStsStore } from '../../src/delivery/index.js';
import { createResolver } from '../../src/dns/index.js';
import { createMtaStsCache } from '../../src/transport-policy/index.js';
import { fakeClock } from '../support/clock.js';
import { policyText, startTlsLab } from './tls-lab.js';

/**
 * Done-means 2 of issue 6, through the delivery path: the MTA-STS policy is fetched once and cached
 * (in the store); a new `id` in `_mta-sts` makes the next delivery fetch the new policy; and while the
 * policy host is down, the cached policy is still enforced: a server that fails it is not used.
 */
test('a new MTA-STS policy id makes delivery fetch the new policy', { timeout: 60_000 }, async (t) => {
  const lab = await startTlsLab(t, { 'switch.test': { sink: 'ca', mtaSts: { mode: 'enforce', id: 'v1' } } }, { dnsTtl: 0 });
  const first = await lab.outcome(await lab.send('a@switch.test'));
  assert.equal(first.type, 'recipient.delivered');
  assert.equal((first.data.tls as any).policy.mta_sts.id, 'v1');
  assert.equal(lab.policyRequests(), 1, 'the policy was fetched once');

  const second = await lab.outcome(await lab.send('b@switch.test'));
  assert.equal(second.type, 'recipient.delivered');
  assert.equal(lab.policyRequests(), 1, 'the same id is served from the cache');

  // The domain moves its mail elsewhere and announces it with a new id.
  lab.setPolicy('switch.test', policyText('enforce', ['mx.elsewhere.test']), 'v2');
  const third = await lab.outcome(await lab.send('c@switch.test'));
  assert.equal(lab.policyRequests(), 2, 'the new id was fetched');
  assert.equal(third.type, 'recipient.deferred', 'the old MX host is no longer allowed');
  assert.match(String(third.data.reply), /matches no mx pattern of MTA-STS policy v2/);
  assert.equal(lab.sinks.get('switch.test')!.accepted, 2);
  const stored = await lab.p.platform.store.mtaStsPolicies.get('switch.test');
  assert.equal(stored?.policyId, 'v2', 'the cache in the store holds the new policy');
});

test('during an HTTPS outage the cached MTA-STS policy stays enforced', { timeout: 60_000 }, async (t) => {
  const lab = await startTlsLab(t, { 'strict.test': { sink: 'self-signed', mtaSts: { mode: 'enforce', id: 'v1' } } }, { dnsTtl: 0 });
  const first = await lab.outcome(await lab.send('a@strict.test'));
  assert.equal(first.type, 'recipient.deferred', 'enforce refuses the self-signed certificate');
  assert.equal(lab.policyRequests(), 1);

  // The policy host goes down and the TXT announces a new id: the fetch fails, the old policy holds.
  lab.setOutage(true);
  lab.setPolicy('strict.test', policyText('none', ['mx.strict.test']), 'v2');
  const second = await lab.outcome(await lab.send('b@strict.test'));
  assert.ok(lab.policyRequests() >= 2, 'the new id was tried');
  assert.equal(second.type, 'recipient.deferred', 'no downgrade while the cached policy is valid (RFC 8461 §3.3)');
  const tls = second.data.tls as any;
  assert.equal(tls.policy.mta_sts.id, 'v1', 'the cached policy is the one in force');
  assert.equal(tls.policy.source, 'mta-sts');
  assert.equal(lab.sinks.get('strict.test')!.accepted, 0, 'the unverified server received nothing');
});

test('the MTA-STS cache survives a restart: a new cache on the same store enforces it during an outage', async (t) => {
  const lab = await startTlsLab(t, { 'kept.test': { sink: 'ca', mtaSts: { mode: 'enforce', id: 'v1' } } }, { dnsTtl: 0 });
  assert.equal((await lab.outcome(await lab.send('a@kept.test'))).type, 'recipient.delivered');
  const clock = fakeClock(Date.now());
  // A fresh process: empty memory, the same database, and a policy host that cannot be reached.
  const cache = createMtaStsCache({
    resolver: createResolver({ servers: [lab.dns.address], timeoutMs: 1000, clock }),
    clock,
    store: storeBackedMtaStsStore(lab.p.platform.store),
    fetcher: async (domain) => ({ ok: false, url: `https://mta-sts.${domain}/`, failure: 'connect', message: 'ECONNREFUSED' }),
  });
  lab.setPolicy('kept.test', policyText('testing', ['*.kept.test']), 'v2');
  const r = await cache.getPolicy('kept.test');
  assert.equal(r.kind, 'policy');
  assert.ok(r.kind === 'policy' && r.id === 'v1' && r.policy.mode === 'enforce' && r.source === 'cache');
});
