import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  createMemoryCounter,
  createShaper,
  type DestinationLimits,
  destinationKey,
  limitsForSite,
  type ShapingRules,
  type SharedCounter,
  siteOfKey,
} from '../../src/delivery/shaper.js';
import { fakeClock } from '../support/clock.js';

const DEFAULT: DestinationLimits = { maxConnections: 10, maxMessagesPerConnection: 100, perSecond: 0, perMinute: 0 };

const RULES: ShapingRules = {
  default: DEFAULT,
  bySite: {
    '*.google.com': { maxConnections: 20, perSecond: 50 },
    '*.l.google.com': { maxConnections: 30 },
    'mx.small.example': { maxConnections: 1, perMinute: 30 },
    '*.EXAMPLE.': { maxMessagesPerConnection: 5, maxConnections: 4 },
    'a.example.org,b.example.org': { maxConnections: 2 },
  },
};

test('site patterns match the MX host names of a site, the more specific refining the less', () => {
  const table: Array<[string, Partial<DestinationLimits>]> = [
    ['aspmx.l.google.com,alt1.aspmx.l.google.com', { maxConnections: 30, perSecond: 50 }], // the longer suffix wins
    ['smtp.google.com', { maxConnections: 20, perSecond: 50 }],
    ['google.com', {}], // *.google.com is below google.com, not google.com itself
    ['notgoogle.com', {}],
    ['mx.small.example', { maxConnections: 1, perMinute: 30, maxMessagesPerConnection: 5 }], // the exact host wins over *.example
    ['mx2.small.example', { maxMessagesPerConnection: 5, maxConnections: 4 }], // patterns are case-insensitive, trailing dot ignored
    ['a.example.org,b.example.org', { maxConnections: 2 }], // a whole site name
    ['a.example.org', {}],
    ['mx.unknown.test', {}],
  ];
  for (const [site, overrides] of table) assert.deepEqual(limitsForSite(RULES, site), { ...DEFAULT, ...overrides }, site);
});

test('a destination key carries the pool and the site', () => {
  const key = destinationKey('aspmx.l.google.com', 'bulk');
  assert.equal(key, 'bulk|aspmx.l.google.com');
  assert.equal(siteOfKey(key), 'aspmx.l.google.com');
  const shaper = createShaper({ rules: RULES, clock: fakeClock() });
  assert.equal(shaper.limitsFor(key).maxConnections, 30);
  assert.equal(shaper.limitsFor('aspmx.l.google.com').maxConnections, 30);
});

function shaperWith(limits: Partial<DestinationLimits>) {
  const clock = fakeClock();
  return { shaper: createShaper({ rules: { default: { ...DEFAULT, ...limits } }, clock }), clock };
}

test('the per-second bucket lets a burst through and then refills continuously', () => {
  const { shaper, clock } = shaperWith({ perSecond: 2 });
  assert.deepEqual([shaper.take('d'), shaper.take('d'), shaper.take('d')], [0, 0, 500]);
  clock.advance(499);
  assert.equal(shaper.take('d'), 1);
  clock.advance(1);
  assert.equal(shaper.take('d'), 0);
  assert.equal(shaper.take('d'), 500);
});

test('a refused take consumes nothing', () => {
  const { shaper, clock } = shaperWith({ perSecond: 1 });
  assert.equal(shaper.take('d'), 0);
  assert.equal(shaper.take('d'), 1000);
  clock.advance(500);
  assert.equal(shaper.take('d'), 500);
  clock.advance(500);
  assert.equal(shaper.take('d'), 0);
});

test('the per-minute bucket holds a sustained flow below the per-second rate', () => {
  const { shaper, clock } = shaperWith({ perSecond: 10, perMinute: 3 });
  assert.deepEqual([shaper.take('d'), shaper.take('d'), shaper.take('d')], [0, 0, 0]);
  assert.equal(shaper.take('d'), 20_000);
  clock.advance(20_000);
  assert.equal(shaper.take('d'), 0);
});

test('the longer wait of the two buckets is the answer', () => {
  const { shaper } = shaperWith({ perSecond: 1, perMinute: 1 });
  assert.equal(shaper.take('d'), 0);
  assert.equal(shaper.take('d'), 60_000);
});

test('a batch larger than the bucket goes when the bucket is full and leaves it in debt', () => {
  const { shaper, clock } = shaperWith({ perSecond: 2 });
  assert.equal(shaper.take('d', 5), 0);
  assert.equal(shaper.take('d'), 2000, 'three tokens of debt plus the one asked for');
  clock.advance(2000);
  assert.equal(shaper.take('d'), 0);
});

test('zero means no rate limit', () => {
  const { shaper } = shaperWith({});
  for (let i = 0; i < 1000; i++) assert.equal(shaper.take('d'), 0);
});

test('destinations have their own buckets and their own limits', () => {
  const clock = fakeClock();
  const shaper = createShaper({ rules: RULES, clock });
  const small = destinationKey('mx.small.example');
  for (let i = 0; i < 30; i++) assert.equal(shaper.take(small), 0);
  assert.equal(shaper.take(small), 2000, '30 per minute: one every 2 s');
  assert.equal(shaper.take(destinationKey('mx.small.example', 'other-pool')), 0, 'another egress pool has its own bucket');
  assert.equal(shaper.take(destinationKey('mx.unknown.test')), 0);
});

test('takeShared counts fixed windows through the shared counter', async () => {
  const { shaper, clock } = shaperWith({ perSecond: 2 });
  assert.deepEqual([await shaper.takeShared('d'), await shaper.takeShared('d')], [0, 0]);
  assert.equal(await shaper.takeShared('d'), 1000, 'until the next one-second window');
  clock.advance(400);
  assert.equal(await shaper.takeShared('d'), 600);
  clock.advance(600);
  assert.equal(await shaper.takeShared('d'), 0);
});

test('two nodes sharing one counter share one budget', async () => {
  const clock = fakeClock();
  const shared = createMemoryCounter(clock);
  // As a remote store would: every increment is asynchronous.
  const remote: SharedCounter = { increment: async (key, windowMs, n) => shared.increment(key, windowMs, n) };
  const rules = { default: { ...DEFAULT, perMinute: 3 } };
  const nodeA = createShaper({ rules, clock, counter: remote });
  const nodeB = createShaper({ rules, clock, counter: remote });
  assert.equal(await nodeA.takeShared('d'), 0);
  assert.equal(await nodeB.takeShared('d'), 0);
  assert.equal(await nodeA.takeShared('d'), 0);
  assert.equal(await nodeB.takeShared('d'), 60_000);
  assert.equal(await nodeB.takeShared('other'), 0);
});

test('the in-memory counter starts a new count in each window', () => {
  const clock = fakeClock();
  const c = createMemoryCounter(clock);
  assert.equal(c.increment('k', 1000, 2), 2);
  assert.equal(c.increment('k', 1000, 1), 3);
  assert.equal(c.increment('k', 60_000, 1), 1, 'windows of another length count apart');
  clock.advance(1000);
  assert.equal(c.increment('k', 1000, 1), 1);
  assert.equal(c.size(), 2);
});
