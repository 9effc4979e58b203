import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { masterKeyId, openSecret, SecretOpenError, sealSecret } from '../../src/governance/index.js';

const key = randomBytes(32);
const secret = Buffer.from('-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIN…\n-----END PRIVATE KEY-----\n');

const reasonOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof SecretOpenError, `expected SecretOpenError, got ${e}`);
    return e.reason;
  }
  assert.fail('expected the secret not to open');
};

/** Flips one bit of the base64url part at `index` (0 = version … 5 = ciphertext). */
function flipBit(sealed: string, index: number): string {
  const parts = sealed.split('.');
  const bytes = Buffer.from(parts[index]!, 'base64url');
  bytes[0]! ^= 0x01;
  parts[index] = bytes.toString('base64url');
  return parts.join('.');
}

test('a sealed secret opens with the same key and aad, and does not contain the plaintext', () => {
  const sealed = sealSecret(secret, key, 'dkim_keys:dk_1');
  assert.match(sealed, /^v1(\.[A-Za-z0-9_-]+){5}$/);
  assert.ok(!sealed.includes('PRIVATE KEY') && !sealed.includes(secret.toString('base64')));
  assert.deepEqual(openSecret(sealed, key, 'dkim_keys:dk_1'), secret);
});

test('sealing the same secret twice gives different ciphertexts (random salt and iv)', () => {
  assert.notEqual(sealSecret(secret, key, 'a'), sealSecret(secret, key, 'a'));
});

test('a tampered ciphertext, tag, iv or salt fails authentication', () => {
  const sealed = sealSecret(secret, key, 'dkim_keys:dk_1');
  for (const part of [2, 3, 4, 5]) {
    assert.equal(
      reasonOf(() => openSecret(flipBit(sealed, part), key, 'dkim_keys:dk_1')),
      'authentication_failed',
      `part ${part}`,
    );
  }
});

test('a secret bound to one row does not open for another (wrong aad)', () => {
  const sealed = sealSecret(secret, key, 'dkim_keys:dk_1');
  assert.equal(
    reasonOf(() => openSecret(sealed, key, 'dkim_keys:dk_2')),
    'authentication_failed',
  );
});

test('a secret sealed under another master key says so, naming both key ids', () => {
  const other = randomBytes(32);
  const sealed = sealSecret(secret, other, 'x');
  assert.equal(
    reasonOf(() => openSecret(sealed, key, 'x')),
    'wrong_master_key',
  );
  assert.throws(() => openSecret(sealed, key, 'x'), new RegExp(`${masterKeyId(other)}.*${masterKeyId(key)}`));
});

test('malformed and future-version values are refused as such', () => {
  const sealed = sealSecret(secret, key, 'x');
  assert.equal(
    reasonOf(() => openSecret('not sealed', key, 'x')),
    'malformed',
  );
  assert.equal(
    reasonOf(() => openSecret(sealed.split('.').slice(0, 5).join('.'), key, 'x')),
    'malformed',
  );
  assert.equal(
    reasonOf(() => openSecret(sealed.replace(/\.[^.]+$/, '.!!'), key, 'x')),
    'malformed',
  );
  assert.equal(
    reasonOf(() => openSecret(sealed.replace(/^v1/, 'v2'), key, 'x')),
    'unsupported_version',
  );
});

test('a master key that is not 32 bytes is refused', () => {
  assert.throws(() => sealSecret(secret, randomBytes(16), 'x'), /32 bytes/);
});
