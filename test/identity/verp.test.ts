import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isPostwardenError, newId } from '../../src/core/index.js';
import { bounceDomainFor, decodeVerp, deriveVerpKey, encodeVerp } from '../../src/identity/index.js';

const key = 'k1-0123456789abcdef0123456789abcdef';
const oldKey = Buffer.alloc(32, 7);
const input = {
  messageId: newId('msg', 1_760_000_000_000),
  recipientId: newId('rcp', 1_760_000_000_123),
  bounceDomain: 'Bounces.Example.com',
};

test('encodes a lower-case return path of at most 64 octets on the bounce domain', () => {
  const address = encodeVerp(input, key);
  const [local, domain] = address.split('@');
  assert.equal(domain, 'bounces.example.com');
  assert.equal(local!.length, 64);
  assert.equal(local, local!.toLowerCase());
  assert.ok(local!.startsWith('b-'));
});

test('decodes back to the exact message and recipient ids', () => {
  const decoded = decodeVerp(encodeVerp(input, key), key);
  assert.deepEqual(decoded, {
    ok: true,
    messageId: input.messageId,
    recipientId: input.recipientId,
    bounceDomain: 'bounces.example.com',
    keyIndex: 0,
  });
});

test('decodes an address whose case a mailbox provider changed, in angle brackets', () => {
  const address = encodeVerp(input, key);
  const decoded = decodeVerp(`<${address.toUpperCase()}>`, key);
  assert.ok(decoded.ok);
  assert.equal(decoded.messageId, input.messageId);
});

test('refuses a forged or altered MAC', () => {
  const address = encodeVerp(input, key);
  const at = address.indexOf('@');
  const last = address[at - 1]!;
  const forged = `${address.slice(0, at - 1)}${last === '0' ? '1' : '0'}${address.slice(at)}`;
  assert.deepEqual(decodeVerp(forged, key), { ok: false, reason: 'bad_mac' });
});

test('refuses a valid MAC moved to another recipient or another bounce domain', () => {
  const address = encodeVerp(input, key);
  const other = encodeVerp({ ...input, recipientId: newId('rcp') }, key);
  const swapped = `${other.slice(0, 2 + 52)}${address.slice(2 + 52)}`;
  assert.deepEqual(decodeVerp(swapped, key), { ok: false, reason: 'bad_mac' });
  assert.deepEqual(decodeVerp(address.replace('bounces.example.com', 'bounces.other.example'), key), { ok: false, reason: 'bad_mac' });
});

test('refuses the right address checked with the wrong key', () => {
  assert.deepEqual(decodeVerp(encodeVerp(input, key), Buffer.alloc(32, 1)), { ok: false, reason: 'bad_mac' });
});

test('tries every key so addresses signed before a rotation still decode', () => {
  const beforeRotation = encodeVerp(input, oldKey);
  const decoded = decodeVerp(beforeRotation, [key, oldKey]);
  assert.ok(decoded.ok);
  assert.equal(decoded.keyIndex, 1);
});

test('tells addresses that are not VERP from malformed ones', () => {
  assert.deepEqual(decodeVerp('postmaster@example.com', key), { ok: false, reason: 'not_verp' });
  assert.deepEqual(decodeVerp('no-at-sign', key), { ok: false, reason: 'not_verp' });
  assert.deepEqual(decodeVerp('b-tooshort@bounces.example.com', key), { ok: false, reason: 'malformed' });
  const address = encodeVerp(input, key);
  assert.deepEqual(decodeVerp(address.replace(/^b-./, 'b-u'), key), { ok: false, reason: 'malformed' });
});

test('refuses ids that are not msg_ and rcp_ ids, and keys shorter than 16 bytes', () => {
  assert.throws(
    () => encodeVerp({ ...input, messageId: 'msg_nope' }, key),
    (e) => isPostwardenError(e) && e.code === 'VALIDATION_FAILED',
  );
  assert.throws(
    () => encodeVerp({ ...input, recipientId: input.messageId }, key),
    (e) => isPostwardenError(e) && e.code === 'VALIDATION_FAILED',
  );
  assert.throws(
    () => encodeVerp(input, 'short'),
    (e) => isPostwardenError(e) && e.code === 'CONFIG_INVALID',
  );
});

test('nodes sharing a master key derive the same VERP key, and a different master key does not verify', () => {
  const master = Buffer.alloc(32, 7);
  const address = encodeVerp(input, deriveVerpKey(master));
  assert.equal(decodeVerp(address, deriveVerpKey(Buffer.from(master))).ok, true);
  assert.deepEqual(decodeVerp(address, deriveVerpKey(Buffer.alloc(32, 8))), { ok: false, reason: 'bad_mac' });
});

test('the bounce domain is the configured label under the sending domain', () => {
  assert.equal(bounceDomainFor('Example.COM.', 'bounces'), 'bounces.example.com');
});
