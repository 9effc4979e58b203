import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createKeyCache } from '../../src/protection/index.js';

/** A cache of two, a, b inserted in that order, then a read: who goes when c arrives. */
function afterReadOfFirst(evict: 'least-recently-used' | 'oldest-inserted') {
  const cache = createKeyCache<number>({ max: 2, ttlMs: 60_000, now: () => 0, evict });
  cache.set('a', 1);
  cache.set('b', 2);
  assert.equal(cache.get('a'), 1);
  cache.set('c', 3);
  return { a: cache.get('a'), b: cache.get('b'), c: cache.get('c'), size: cache.size };
}

test('least recently used (keys): an entry read since keeps its place, the unread one goes', () => {
  assert.deepEqual(afterReadOfFirst('least-recently-used'), { a: 1, b: undefined, c: 3, size: 2 });
});

test('oldest inserted (opened events): a read does not reorder, the first written goes', () => {
  assert.deepEqual(afterReadOfFirst('oldest-inserted'), { a: undefined, b: 2, c: 3, size: 2 });
});

test('an entry older than ttlMs is gone at its next read, in both orders', () => {
  for (const evict of ['least-recently-used', 'oldest-inserted'] as const) {
    let now = 0;
    const cache = createKeyCache<string>({ max: 10, ttlMs: 1000, now: () => now, evict });
    cache.set('k', 'v');
    now = 1000;
    assert.equal(cache.get('k'), 'v', evict);
    now = 1001;
    assert.equal(cache.get('k'), undefined, evict);
    assert.equal(cache.size, 0, evict);
  }
});
