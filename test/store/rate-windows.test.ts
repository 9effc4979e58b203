import assert from 'node:assert/strict';
import { test } from 'node:test';
import { forEachDialect, openStore } from '../support/dialects.js';

/** `rate_windows.take`: a count that grows only while it fits under its cap (quotas, list drip-feeds). */

forEachDialect(
  'take adds only what fits under the cap, and a refusal leaves the count as it was',
  async (t, dialect) => {
    const store = await openStore(t, dialect);
    assert.equal(await store.rateWindows.take('q', 0, 3, 5, 1000), 3);
    assert.equal(await store.rateWindows.take('q', 0, 2, 5, 1000), 5);
    assert.equal(await store.rateWindows.take('q', 0, 1, 5, 1000), null);
    assert.equal(await store.rateWindows.count('q', 0), 5);
    assert.equal(await store.rateWindows.take('q', 1000, 6, 5, 2000), null, 'more than the cap never fits');
    assert.equal(await store.rateWindows.count('q', 1000), 0);
    // A lowered cap refuses everything until the window ends; the count stays what was taken.
    assert.equal(await store.rateWindows.take('q', 0, 1, 4, 1000), null);
    assert.equal(await store.rateWindows.count('q', 0), 5);
  },
  test,
);

forEachDialect(
  'concurrent takes fill the cap exactly, each seeing a distinct total',
  async (t, dialect) => {
    const store = await openStore(t, dialect);
    const results = await Promise.all(Array.from({ length: 20 }, () => store.rateWindows.take('c', 0, 1, 7, 1000)));
    const taken = results.filter((r) => r !== null).sort((a, b) => a! - b!);
    assert.deepEqual(taken, [1, 2, 3, 4, 5, 6, 7]);
    assert.equal(await store.rateWindows.count('c', 0), 7);
  },
  test,
);
