import assert from 'node:assert/strict';
import { test } from 'node:test';
import { batchedRead, recentRead } from '../../src/core/index.js';

test('a read is kept for ttlMs and shared while in flight; forget drops it, a read in flight included; failures are not kept', async () => {
  const reads: string[] = [];
  let value = 1;
  let fail = false;
  let now = 0;
  let gate: (() => void) | undefined;
  const settings = recentRead(
    async (key: string) => {
      reads.push(key);
      const v = value;
      await new Promise<void>((r) => {
        gate = r;
        setTimeout(r, 5);
      });
      if (fail) throw new Error('database away');
      return `${key}:${v}`;
    },
    { now: () => now, ttlMs: 1000, maxKeys: 2 },
  );
  assert.deepEqual(await Promise.all([settings.get('a'), settings.get('a'), settings.get('b')]), ['a:1', 'a:1', 'b:1']);
  value = 2;
  now = 999;
  assert.equal(await settings.get('a'), 'a:1', 'kept until ttlMs has passed');
  assert.deepEqual(reads, ['a', 'b']);
  now = 1000;
  assert.equal(await settings.get('a'), 'a:2', 'read again once ttlMs has passed');
  // A change made here: forget, and the next get reads afresh.
  value = 3;
  settings.forget('a');
  assert.equal(await settings.get('a'), 'a:3');
  // Forgotten while a read (of the value before the change) is in flight: that read answers its
  // callers, but the next get does not reuse it.
  now = 5000;
  const stale = settings.get('a');
  value = 4;
  settings.forget('a');
  gate?.();
  assert.equal(await stale, 'a:3');
  assert.equal(await settings.get('a'), 'a:4');
  // At most maxKeys kept: 'b' was the oldest and is read again.
  reads.length = 0;
  await settings.get('c');
  await settings.get('b');
  assert.deepEqual(reads, ['c', 'b']);
  // A failed read fails its callers and is not kept.
  fail = true;
  now = 10_000;
  await assert.rejects(Promise.all([settings.get('a'), settings.get('a')]), /database away/);
  fail = false;
  assert.equal(await settings.get('a'), 'a:4');
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
