import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import type { TlsaRecord } from '../../src/dns/index.js';
import { type DaneInput, type DaneStatus, evaluateDane, presentTlsa, tlsaRecordFor } from '../../src/transport-policy/index.js';
import { createTestCa, selfSigned } from '../support/certs.js';

const HOST = 'mx.dane.example';
const der = (pem: string): Buffer => Buffer.from(new X509Certificate(pem).raw);
const pems = (bundle: string): string[] => bundle.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? [];

const ca = createTestCa('DANE Test CA');
const otherCa = createTestCa('Other DANE Test CA');
const good = ca.issue({ hostnames: [HOST] });
const wildcard = ca.issue({ hostnames: ['*.dane.example'] });
const wrongName = ca.issue({ hostnames: ['mx.elsewhere.example'] });
const expired = ca.issue({ hostnames: [HOST], expired: true });
const foreign = otherCa.issue({ hostnames: [HOST] });
const self = selfSigned([HOST]);
const unrelated = selfSigned(['unrelated.example']);

const chainOf = (bundle: string) => pems(bundle).map(der);
const rec = (cert: string, usage: number, selector: number, matchingType: number): TlsaRecord =>
  tlsaRecordFor(cert, { usage, selector, matchingType });

// A happy-path scenario; each row overrides one field (secure or not, records, chain, names).
const base: DaneInput = { tlsa: [rec(good.cert, 3, 1, 1)], secure: true, chain: chainOf(good.chain), hostname: HOST, now: Date.now() };

interface Row {
  name: string;
  input: Partial<DaneInput>;
  status: DaneStatus;
  matched?: [number, number, number];
  /** A reason that must be given, so a row fails for the reason it names. */
  reason?: RegExp;
}

const rows: Row[] = [
  { name: 'DANE-EE 3 1 1 matches the leaf SPKI digest', input: {}, status: 'match', matched: [3, 1, 1] },
  {
    name: 'DANE-EE 3 0 0 matches the full leaf certificate',
    input: { tlsa: [rec(good.cert, 3, 0, 0)] },
    status: 'match',
    matched: [3, 0, 0],
  },
  {
    name: 'DANE-EE 3 0 1 matches the certificate SHA-256',
    input: { tlsa: [rec(good.cert, 3, 0, 1)] },
    status: 'match',
    matched: [3, 0, 1],
  },
  {
    name: 'DANE-EE 3 0 2 matches the certificate SHA-512',
    input: { tlsa: [rec(good.cert, 3, 0, 2)] },
    status: 'match',
    matched: [3, 0, 2],
  },
  { name: 'DANE-EE 3 1 0 matches the raw SPKI', input: { tlsa: [rec(good.cert, 3, 1, 0)] }, status: 'match', matched: [3, 1, 0] },
  { name: 'DANE-EE 3 1 2 matches the SPKI SHA-512', input: { tlsa: [rec(good.cert, 3, 1, 2)] }, status: 'match', matched: [3, 1, 2] },
  { name: 'DANE-EE for another key is a mismatch', input: { tlsa: [rec(unrelated.cert, 3, 1, 1)] }, status: 'mismatch' },
  {
    name: 'DANE-EE ignores names and expiry (RFC 7672 §3.1.1)',
    input: { tlsa: [rec(expired.cert, 3, 1, 1)], chain: chainOf(expired.chain), hostname: 'not-the-name.example' },
    status: 'match',
    matched: [3, 1, 1],
  },
  { name: 'DANE-EE accepts a self-signed leaf', input: { tlsa: [rec(self.cert, 3, 1, 1)], chain: [der(self.cert)] }, status: 'match' },
  { name: 'DANE-EE does not match an issuer certificate', input: { tlsa: [rec(ca.cert, 3, 1, 1)] }, status: 'mismatch' },
  {
    name: 'DANE-TA 2 0 1 anchors the chain at the CA certificate',
    input: { tlsa: [rec(ca.cert, 2, 0, 1)] },
    status: 'match',
    matched: [2, 0, 1],
  },
  { name: 'DANE-TA 2 1 1 anchors the chain at the CA key', input: { tlsa: [rec(ca.cert, 2, 1, 1)] }, status: 'match', matched: [2, 1, 1] },
  { name: 'DANE-TA 2 0 2 anchors the chain with SHA-512', input: { tlsa: [rec(ca.cert, 2, 0, 2)] }, status: 'match', matched: [2, 0, 2] },
  {
    name: 'DANE-TA accepts a wildcard certificate for one label (RFC 7672 §3.2.3)',
    input: { tlsa: [rec(ca.cert, 2, 1, 1)], chain: chainOf(wildcard.chain) },
    status: 'match',
  },
  {
    name: 'DANE-TA rejects a leaf for another name (RFC 7672 §3.2.2)',
    input: { tlsa: [rec(ca.cert, 2, 1, 1)], chain: chainOf(wrongName.chain) },
    status: 'mismatch',
    reason: /names none of/,
  },
  {
    name: 'DANE-TA accepts another reference identifier such as the next-hop domain',
    input: { tlsa: [rec(ca.cert, 2, 1, 1)], chain: chainOf(wrongName.chain), referenceIds: ['mx.elsewhere.example'] },
    status: 'match',
  },
  {
    name: 'DANE-TA rejects an expired leaf',
    input: { tlsa: [rec(ca.cert, 2, 1, 1)], chain: chainOf(expired.chain) },
    status: 'mismatch',
    reason: /leaf expired/,
  },
  {
    name: 'DANE-TA rejects a leaf not issued by the anchor even when the anchor is in the chain',
    input: { tlsa: [rec(ca.cert, 2, 1, 1)], chain: [der(foreign.cert), der(ca.cert)] },
    status: 'mismatch',
    reason: /does not chain/,
  },
  {
    name: 'DANE-TA needs the anchor in the presented chain (RFC 7672 §3.1.2)',
    input: { tlsa: [rec(ca.cert, 2, 1, 1)], chain: [der(good.cert)] },
    status: 'mismatch',
    reason: /no issuer certificate/,
  },
  {
    name: 'DANE-TA does not take the leaf itself as the anchor',
    input: { tlsa: [rec(self.cert, 2, 1, 1)], chain: [der(self.cert)] },
    status: 'mismatch',
  },
  { name: 'an RRset that is not DNSSEC-validated does not apply', input: { secure: false }, status: 'not-applicable' },
  { name: 'an empty RRset does not apply', input: { tlsa: [] }, status: 'not-applicable' },
  {
    name: 'PKIX usages 0 and 1 are unusable on port 25 (RFC 7672 §3.1.3)',
    input: { tlsa: [rec(ca.cert, 0, 1, 1), rec(good.cert, 1, 1, 1)] },
    status: 'unusable',
    reason: /PKIX-EE/,
  },
  {
    name: 'unknown usage, selector and matching type are unusable',
    input: {
      tlsa: [
        { usage: 4, selector: 1, matchingType: 1, data: Buffer.alloc(32) },
        { usage: 3, selector: 2, matchingType: 1, data: Buffer.alloc(32) },
        { usage: 3, selector: 1, matchingType: 3, data: Buffer.alloc(32) },
      ],
    },
    status: 'unusable',
  },
  {
    name: 'a digest of the wrong length is unusable',
    input: { tlsa: [{ ...rec(good.cert, 3, 1, 1), data: rec(good.cert, 3, 1, 1).data.subarray(0, 31) }] },
    status: 'unusable',
    reason: /needs 32 bytes/,
  },
  {
    name: 'one usable matching record is enough beside unusable ones',
    input: { tlsa: [rec(good.cert, 1, 1, 1), rec(good.cert, 3, 1, 1)] },
    status: 'match',
    matched: [3, 1, 1],
  },
  {
    name: 'a rollover pair matches on either key',
    input: { tlsa: [rec(unrelated.cert, 3, 1, 1), rec(good.cert, 3, 1, 1)] },
    status: 'match',
  },
  { name: 'usable records with no presented certificate are a mismatch', input: { chain: [] }, status: 'mismatch' },
  { name: 'an unparseable certificate is a mismatch', input: { chain: [Buffer.from('not a certificate')] }, status: 'mismatch' },
];

describe('DANE evaluation (RFC 7672, RFC 6698)', () => {
  for (const row of rows) {
    test(row.name, () => {
      const result = evaluateDane({ ...base, ...row.input });
      assert.equal(result.status, row.status, result.reasons.join('\n'));
      if (row.matched) {
        const [usage, selector, matchingType] = row.matched;
        assert.deepEqual(result.matched, { usage, selector, matchingType });
      }
      if (row.status !== 'match') assert.equal(result.matched, undefined);
      assert.ok(result.reasons.length > 0);
      const { reason } = row;
      if (reason)
        assert.ok(
          result.reasons.some((r) => reason.test(r)),
          result.reasons.join('\n'),
        );
    });
  }

  test('names the reference identifier a DANE-TA match used', () => {
    const result = evaluateDane({ ...base, tlsa: [rec(ca.cert, 2, 1, 1)], hostname: 'MX.Dane.Example.' });
    assert.equal(result.status, 'match');
    assert.equal(result.matchedName, 'MX.Dane.Example.');
  });
});

describe('TLSA records for a certificate', () => {
  const fixtures = new URL('../fixtures/transport-policy/', import.meta.url);
  const expected = JSON.parse(readFileSync(new URL('tlsa-fixture.json', fixtures), 'utf8')) as { records: Record<string, string> };
  const pem = readFileSync(new URL('tlsa-fixture-cert.pem', fixtures), 'utf8');

  for (const [params, hex] of Object.entries(expected.records)) {
    test(`computes ${params} as the OpenSSL CLI does`, () => {
      const [usage, selector, matchingType] = params.split(' ').map(Number) as [number, number, number];
      const r = tlsaRecordFor(pem, { usage, selector, matchingType });
      assert.equal(presentTlsa(r), `${params} ${hex}`);
    });
  }

  test('accepts DER as well as PEM', () => {
    const fromDer = tlsaRecordFor(der(pem), { usage: 3, selector: 1, matchingType: 1 });
    assert.equal(fromDer.data.toString('hex'), expected.records['3 1 1']);
  });

  test('shortens the data in messages when asked', () => {
    assert.match(presentTlsa(tlsaRecordFor(pem, { usage: 3, selector: 1, matchingType: 1 }), 8), /^3 1 1 [0-9a-f]{8}…$/);
  });
});
