import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildPlan } from '../../src/delivery/tls-planner.js';
import type { MxHost } from '../../src/dns/index.js';
import type { DaneState } from '../../src/transport-policy/index.js';

const hosts: MxHost[] = [{ name: 'mx.dane.test', priority: 10, addresses: ['127.0.0.1'] }];
const tlsa = (byte: number) => ({ usage: 3, selector: 1, matchingType: 1, data: Buffer.alloc(32, byte) });
const plan = (records: ReturnType<typeof tlsa>[]) =>
  buildPlan({
    domain: 'dane.test',
    stream: 'transactional',
    hosts,
    tenantPolicy: 'opportunistic',
    daneFor: (): DaneState => ({ kind: 'secure', tlsa: records }),
  });

test('a plan names its connection pool by its TLS requirements, whatever order DNS gave the TLSA records in', () => {
  const one = plan([tlsa(1), tlsa(2)]);
  assert.match(one.key, /^[0-9a-f]{16}$/, 'DANE makes the plan a pool of its own');
  assert.equal(plan([tlsa(2), tlsa(1)]).key, one.key);
  assert.notEqual(plan([tlsa(1), tlsa(3)]).key, one.key, 'another TLSA set is another pool');
  const plain = buildPlan({ domain: 'plain.test', stream: 'transactional', hosts, tenantPolicy: 'opportunistic' });
  assert.equal(plain.key, '', 'plain opportunistic delivery shares the default pool');
});
