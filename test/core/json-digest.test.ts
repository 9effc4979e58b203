import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { jsonSha256 } from '../../src/core/index.js';

const sha = (text: string) => createHash('sha256').update(text).digest('hex');

test('the digest is the SHA-256 of exactly what JSON.stringify writes, so stored digests still match', () => {
  const values: unknown[] = [
    null,
    true,
    0,
    -1.5e-7,
    'plain',
    'quotes " and \\ and \u2028 and \u0000 and 😀',
    [],
    {},
    [1, 'two', null, [3, [4]], { five: 5 }],
    { b: 1, a: [{}, []], 'key with "quotes"': { nested: { deeper: [true, false] } }, empty: '' },
    { skipped: undefined, kept: 1, list: [undefined, () => 1] },
    { big: 'x'.repeat(200_000), after: 1 },
  ];
  for (const v of values)
    assert.equal(jsonSha256('POST /v1/messages\n', v), sha(`POST /v1/messages\n${JSON.stringify(v)}`), JSON.stringify(v)?.slice(0, 60));
});

test('a value nested 200,000 deep is hashed without overflowing the stack', () => {
  const depth = 200_000;
  const text = `${'['.repeat(depth)}${']'.repeat(depth)}`;
  const deep = JSON.parse(text);
  assert.throws(() => JSON.stringify(deep), RangeError, 'JSON.stringify itself overflows here');
  assert.equal(jsonSha256('', deep), sha(text));
  const objects = JSON.parse(`${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`);
  assert.match(jsonSha256('', objects), /^[0-9a-f]{64}$/);
});
