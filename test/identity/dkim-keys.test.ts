import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { test } from 'node:test';
import { isPostwardenError } from '../../src/core/index.js';
import {
  checkDkimPrivateKey,
  type DkimAlgorithm,
  dkimDnsName,
  dkimTxtValue,
  generateDkimKey,
  nextSelector,
} from '../../src/identity/index.js';

const NOV_2026 = Date.UTC(2026, 10, 23, 9, 0, 0);

test('an RSA key is 2048 bits and publishes its DER SubjectPublicKeyInfo as p=', async () => {
  const k = await generateDkimKey('rsa-2048');
  const pub = createPublicKey({ key: Buffer.from(k.publicKey, 'base64'), format: 'der', type: 'spki' });
  assert.equal(pub.asymmetricKeyType, 'rsa');
  assert.equal(pub.asymmetricKeyDetails?.modulusLength, 2048);
  assert.match(k.privateKeyPem, /^-----BEGIN PRIVATE KEY-----/);
  assert.equal(dkimTxtValue('rsa-2048', k.publicKey), `v=DKIM1; k=rsa; p=${k.publicKey}`);
});

test('an Ed25519 key publishes the bare 32-byte public key (RFC 8463 §4.2)', async () => {
  const k = await generateDkimKey('ed25519');
  const raw = Buffer.from(k.publicKey, 'base64');
  assert.equal(raw.length, 32);
  const jwk = createPublicKey(k.privateKeyPem).export({ format: 'jwk' });
  assert.equal(raw.toString('base64url'), jwk.x);
  assert.equal(dkimTxtValue('ed25519', k.publicKey), `v=DKIM1; k=ed25519; p=${k.publicKey}`);
});

test('RSA shorter than 2048 bits is refused, when generating and when checking a key', async () => {
  await assert.rejects(generateDkimKey('rsa-1024' as DkimAlgorithm), (e) => {
    assert.ok(isPostwardenError(e) && e.code === 'VALIDATION_FAILED');
    assert.match(JSON.stringify(e.details), /shorter than 2048 bits/);
    return true;
  });
  const weak = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const check = checkDkimPrivateKey(weak);
  assert.equal(check.ok, false);
  assert.match(check.ok ? '' : check.error, /1024 bits refused/);
});

test('a key of another type, or not a key at all, may not sign', () => {
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const ecCheck = checkDkimPrivateKey(ec);
  assert.match(ecCheck.ok ? '' : ecCheck.error, /ec keys cannot sign DKIM/);
  assert.equal(checkDkimPrivateKey('not a pem').ok, false);
});

test('checking a good key gives its algorithm and the p= its DNS record must carry', async () => {
  for (const alg of ['rsa-2048', 'ed25519'] as const) {
    const k = await generateDkimKey(alg);
    const check = checkDkimPrivateKey(k.privateKeyPem);
    assert.ok(check.ok);
    assert.equal(check.value.algorithm, alg);
    assert.equal(check.value.publicKey, k.publicKey);
  }
});

test('selectors are pw + year and month + the first free letter, growing to two letters after z', () => {
  assert.equal(nextSelector([], NOV_2026), 'pw202611a');
  assert.equal(nextSelector(['pw202611a', 'PW202611B', 'pw202610c'], NOV_2026), 'pw202611c');
  assert.equal(nextSelector([], Date.UTC(2027, 0, 1)), 'pw202701a');
  const allSingle = [...'abcdefghijklmnopqrstuvwxyz'].map((c) => `pw202611${c}`);
  assert.equal(nextSelector(allSingle, NOV_2026), 'pw202611aa');
});

test('a selector is published at <selector>._domainkey.<domain>', () => {
  assert.equal(dkimDnsName('pw202611a', 'example.com'), 'pw202611a._domainkey.example.com');
});
