import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sharedRead } from '../../src/core/index.js';

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
