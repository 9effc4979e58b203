import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createGroupCommitter } from '../../src/queue/index.js';

test('without linger, items submitted in one turn share one commit and later ones the next', async () => {
  const batches: number[][] = [];
  const c = createGroupCommitter<number, number>({
    commit: async (items) => {
      batches.push(items);
      return items.map((i) => i * 2);
    },
  });
  const first = await Promise.all([c.submit(1), c.submit(2), c.submit(3)]);
  assert.deepEqual(first, [2, 4, 6]);
  assert.deepEqual(await c.submit(4), 8);
  assert.deepEqual(batches, [[1, 2, 3], [4]]);
});

test('with linger, items apart in time gather into one commit; a full batch goes at once', async () => {
  const batches: number[][] = [];
  const c = createGroupCommitter<number, number>({
    lingerMs: 10_000,
    maxBatch: 4,
    commit: async (items) => {
      batches.push(items);
      return items;
    },
  });
  const a = c.submit(1);
  await new Promise((r) => setTimeout(r, 20));
  const b = c.submit(2);
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(batches, [], 'nothing committed while lingering');
  // Two more fill the batch of four: all commit together, at once, long before the linger ends.
  const started = performance.now();
  assert.deepEqual(await Promise.all([a, b, c.submit(3), c.submit(4)]), [1, 2, 3, 4]);
  assert.ok(performance.now() - started < 5000, 'a full batch does not linger');
  assert.deepEqual(batches, [[1, 2, 3, 4]]);
});

test('drain commits a lingering batch instead of waiting for it', async () => {
  const batches: number[][] = [];
  const c = createGroupCommitter<number, number>({
    lingerMs: 60_000,
    commit: async (items) => {
      batches.push(items);
      return items;
    },
  });
  const p = c.submit(7);
  await new Promise((r) => setImmediate(r));
  await c.drain();
  assert.equal(await p, 7);
  assert.deepEqual(batches, [[7]]);
});

test('drain called in the same turn as a submit commits it', async () => {
  const batches: number[][] = [];
  const c = createGroupCommitter<number, number>({
    commit: async (items) => {
      batches.push(items);
      return items;
    },
  });
  const p = c.submit(9);
  await c.drain();
  assert.deepEqual(batches, [[9]], 'committed by the time drain resolves');
  assert.equal(await p, 9);
});
