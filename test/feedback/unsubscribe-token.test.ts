import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeUnsubscribeToken, deriveUnsubscribeKey, encodeUnsubscribeToken } from '../../src/feedback/index.js';

const key = deriveUnsubscribeKey(Buffer.alloc(32, 7));
const claims = { tenantId: 'ten_1', messageId: 'msg_1', address: 'ann@example.net', domain: 'example.com', stream: 'marketing' as const };

test('a token decodes to the claims it was made from, URL-safe', () => {
  const token = encodeUnsubscribeToken(claims, key);
  assert.match(token, /^u1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/);
  assert.deepEqual(decodeUnsubscribeToken(token, key), { ok: true, claims });
});

test('a token made with another key, or with any claim changed, is refused', () => {
  const other = encodeUnsubscribeToken(claims, deriveUnsubscribeKey(Buffer.alloc(32, 8)));
  assert.deepEqual(decodeUnsubscribeToken(other, key), { ok: false, reason: 'bad_mac' });
  const [v, , mac] = encodeUnsubscribeToken(claims, key).split('.');
  const changed = encodeUnsubscribeToken({ ...claims, stream: 'cold' }, key).split('.')[1];
  assert.deepEqual(decodeUnsubscribeToken(`${v}.${changed}.${mac}`, key), { ok: false, reason: 'bad_mac' });
  for (const bad of ['', 'u1', 'u2.a.b', `u1.${changed}.short`, 'u1.a b.c']) {
    assert.deepEqual(decodeUnsubscribeToken(bad, key), { ok: false, reason: 'malformed' }, bad);
  }
});

test('an old key still verifies after rotation', () => {
  const old = deriveUnsubscribeKey(Buffer.alloc(32, 1));
  const token = encodeUnsubscribeToken(claims, old);
  assert.equal(decodeUnsubscribeToken(token, [key, old]).ok, true);
});
