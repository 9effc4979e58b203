import assert from 'node:assert/strict';
import { test } from 'node:test';
import { batchedRead, sharedRead } from '../../src/core/index.js';

test('concurrent reads of a key share one; a read after it resolved, or after it failed, reads afresh', async () => {
  const reads: string[] = [];
  let value = 1;
  let fail = false;
  const read = sharedRead(async (key: string) => {
    reads.push(key);
    await new Promise((r) => setTimeout(r, 5));
    if (fail) throw new Error('database away');
    return `${key}:${value}`;
  });
  assert.deepEqual(await Promise.all([read('a'), read('a'), read('b'), read('a')]), ['a:1', 'a:1', 'b:1', 'a:1']);
  assert.deepEqual(reads, ['a', 'b'], 'one read per key while it was in flight');
  value = 2;
  assert.equal(await read('a'), 'a:2', 'nothing kept once it resolved: a change is seen by the next read');
  fail = true;
  await assert.rejects(Promise.all([read('a'), read('a')]), /database away/);
  fail = false;
  assert.equal(await read('a'), 'a:2', 'a failed read is not kept either');
  assert.deepEqual(reads, ['a', 'b', 'a', 'a', 'a']);
});

test('reads asked in one turn go out together, a chunk per maxBatch keys; one key failing fails only its callers', async () => {
  const reads: string[][] = [];
  let down = false;
  const read = batchedRead(async (keys: string[]) => {
    reads.push(keys);
    if (down) throw new Error('database away');
    const out = new Map<string, string | Promise<string>>();
    for (const k of keys) {
      if (k === 'gone') continue;
      out.set(k, k === 'sealed' ? Promise.reject(new Error('key shredded')) : `${k}!`);
    }
    return out;
  }, 3);
  const asked = ['a', 'b', 'a', 'c', 'd', 'gone', 'sealed'].map((k) => read(k));
  const settled = await Promise.allSettled(asked);
  assert.deepEqual(
    settled.map((s) => (s.status === 'fulfilled' ? s.value : (s.reason as Error).message)),
    ['a!', 'b!', 'a!', 'c!', 'd!', undefined, 'key shredded'],
  );
  assert.deepEqual(reads, [
    ['a', 'b', 'c'],
    ['d', 'gone', 'sealed'],
  ]);
  // The next turn reads afresh; a failed read fails every caller of its keys, and is not kept.
  assert.equal(await read('a'), 'a!');
  down = true;
  await assert.rejects(Promise.all([read('a'), read('b')]), /database away/);
  down = false;
  assert.equal(await read('b'), 'b!');
  assert.deepEqual(reads.slice(2), [['a'], ['a', 'b'], ['b']]);
});
