import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createDnsCache } from '../../src/dns/cache.js';
import type { DnsResult } from '../../src/dns/index.js';

function fakeClock(start = 0) {
  let now = start;
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

const answer = (name: string): DnsResult<'A'> => ({
  kind: 'answer',
  name,
  type: 'A',
  records: ['192.0.2.1'],
  ttl: 300,
  authenticated: false,
});

test('evicts the least recently used entry when full', () => {
  const cache = createDnsCache({ clock: fakeClock(), maxEntries: 2 });
  cache.set('a.example', 'A', answer('a.example'), 300);
  cache.set('b.example', 'A', answer('b.example'), 300);
  assert.ok(cache.get('a.example', 'A')); // a is now more recent than b
  cache.set('c.example', 'A', answer('c.example'), 300);
  assert.equal(cache.size, 2);
  assert.equal(cache.get('b.example', 'A'), undefined);
  assert.ok(cache.get('a.example', 'A'));
  assert.ok(cache.get('c.example', 'A'));
});

test('keys by type as well as by case-insensitive name', () => {
  const cache = createDnsCache({ clock: fakeClock() });
  cache.set('Example.COM.', 'A', answer('example.com'), 300);
  assert.ok(cache.get('example.com', 'A'));
  assert.equal(cache.get('example.com', 'AAAA'), undefined);
});

test('stores neither errors nor zero TTLs', () => {
  const cache = createDnsCache({ clock: fakeClock() });
  cache.set('a.example', 'A', { kind: 'error', name: 'a.example', type: 'A', failure: 'servfail', message: 'x' }, 300);
  cache.set('b.example', 'A', answer('b.example'), 0);
  assert.equal(cache.size, 0);
});

test('caps a negative answer at three hours', () => {
  const clock = fakeClock();
  const cache = createDnsCache({ clock });
  cache.set('gone.example', 'A', { kind: 'nxdomain', name: 'gone.example', type: 'A', authenticated: false }, 86_400);
  clock.advance(10_800_000 - 1);
  assert.equal(cache.get('gone.example', 'A')?.kind, 'nxdomain');
  clock.advance(1);
  assert.equal(cache.get('gone.example', 'A'), undefined);
});
