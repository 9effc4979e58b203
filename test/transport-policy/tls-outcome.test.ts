import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { describe, type TestContext, test } from 'node:test';
import tls from 'node:tls';
import type { TlsRptResultType } from '../../src/core/index.js';
import {
  checkTlsOutcome,
  type DaneState,
  decideTls,
  type MtaStsLookup,
  type ObservedTls,
  observeTlsSocket,
  type TenantTlsPolicy,
  tlsaRecordFor,
} from '../../src/transport-policy/index.js';
import { createTestCa, selfSigned, type TestCertificate } from '../support/certs.js';

const MX = 'mx1.example.com';
const ca = createTestCa('TLS Outcome Test CA');
const certs: Record<'trusted' | 'selfSigned' | 'wrongHost' | 'expired', TestCertificate & { chain?: string }> = {
  trusted: ca.issue({ hostnames: [MX] }),
  selfSigned: selfSigned([MX]),
  wrongHost: ca.issue({ hostnames: ['mx.elsewhere.example'] }),
  expired: ca.issue({ hostnames: [MX], expired: true }),
};
type CertKind = keyof typeof certs;

const sts = (mode: 'enforce' | 'testing'): MtaStsLookup => ({
  kind: 'policy',
  domain: 'example.com',
  id: 'sts7',
  source: 'cache',
  fetchedAt: 0,
  expiresAt: 1,
  notes: [],
  policy: { version: 'STSv1', mode, mx: ['*.example.com'], maxAge: 86400 },
});
const daneFor = (cert: string, usage: number): DaneState => ({
  kind: 'secure',
  tlsa: [tlsaRecordFor(cert, { usage, selector: 1, matchingType: 1 })],
});

type PolicyName =
  | 'opportunistic'
  | 'required'
  | 'verified'
  | 'mta-sts enforce'
  | 'mta-sts testing'
  | 'DANE-EE'
  | 'DANE-TA'
  | 'DANE-EE other key';

function decisionFor(policy: PolicyName, served: CertKind) {
  const tenant: TenantTlsPolicy = policy === 'required' || policy === 'verified' ? policy : 'opportunistic';
  const input = { mxHost: MX, tenantPolicy: tenant };
  switch (policy) {
    case 'mta-sts enforce':
      return decideTls({ ...input, mtaSts: sts('enforce') });
    case 'mta-sts testing':
      return decideTls({ ...input, mtaSts: sts('testing') });
    case 'DANE-EE':
      return decideTls({ ...input, dane: daneFor(certs[served].cert, 3) });
    case 'DANE-TA':
      return decideTls({ ...input, dane: daneFor(ca.cert, 2) });
    case 'DANE-EE other key': {
      const other = served === 'trusted' ? certs.selfSigned.cert : certs.trusted.cert;
      return decideTls({ ...input, dane: daneFor(other, 3) });
    }
    default:
      return decideTls(input);
  }
}

/** Handshakes with a loopback TLS server serving `kind`, the way the delivery session will. */
async function observe(t: TestContext, kind: CertKind): Promise<ObservedTls> {
  const { cert, key, chain } = certs[kind];
  const server = tls.createServer({ cert: chain ?? cert, key }, (s) => s.end());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const port = (server.address() as AddressInfo).port;
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername: MX, ca: ca.cert, rejectUnauthorized: false }, () => {
      const observed = observeTlsSocket(socket, MX);
      socket.destroy();
      resolve(observed);
    });
    socket.on('error', reject);
  });
}

// [policy, served certificate, ok, result type when refused or (testing) would-be refused]
const matrix: Array<[PolicyName, CertKind, boolean, TlsRptResultType?]> = [
  ['opportunistic', 'selfSigned', true],
  ['required', 'selfSigned', true],
  ['required', 'expired', true],
  ['verified', 'trusted', true],
  ['verified', 'selfSigned', false, 'certificate-not-trusted'],
  ['verified', 'wrongHost', false, 'certificate-host-mismatch'],
  ['verified', 'expired', false, 'certificate-expired'],
  ['mta-sts enforce', 'trusted', true],
  ['mta-sts enforce', 'selfSigned', false, 'certificate-not-trusted'],
  ['mta-sts enforce', 'wrongHost', false, 'certificate-host-mismatch'],
  ['mta-sts testing', 'trusted', true],
  ['mta-sts testing', 'selfSigned', true, 'certificate-not-trusted'],
  ['DANE-EE', 'selfSigned', true],
  ['DANE-EE', 'expired', true],
  ['DANE-EE', 'wrongHost', true],
  ['DANE-EE other key', 'selfSigned', false, 'validation-failure'],
  ['DANE-EE other key', 'trusted', false, 'validation-failure'],
  ['DANE-TA', 'trusted', true],
  ['DANE-TA', 'wrongHost', false, 'validation-failure'],
  ['DANE-TA', 'expired', false, 'validation-failure'],
  ['DANE-TA', 'selfSigned', false, 'validation-failure'],
];

describe('TLS outcome after a loopback handshake', () => {
  for (const [policy, served, ok, resultType] of matrix) {
    test(`${policy} ${ok ? 'sends' : 'refuses to send'} to a server with a ${served} certificate`, async (t) => {
      const decision = decisionFor(policy, served);
      const observed = await observe(t, served);
      const outcome = checkTlsOutcome(decision, observed, { now: Date.now() });
      assert.equal(outcome.ok, ok, outcome.reason);
      if (policy === 'mta-sts testing') {
        assert.equal(outcome.evidence.testing?.wouldFail, resultType !== undefined);
        assert.equal(outcome.evidence.testing?.resultType, resultType);
      } else {
        assert.equal(outcome.resultType, resultType);
      }
      assert.equal(outcome.evidence.tls, true);
      assert.match(outcome.evidence.protocol ?? '', /^TLSv1\.[23]$/);
      assert.ok(outcome.evidence.cipher);
      assert.equal(outcome.evidence.certificateSha256, new X509Certificate(certs[served].cert).fingerprint256);
      assert.equal(outcome.evidence.policy.verify, decision.verify);
      assert.equal(outcome.evidence.policy.source, decision.source);
    });
  }
});

describe('TLS outcome without TLS and other edges', () => {
  const plain: ObservedTls = { tls: false, hostname: MX };

  test('opportunistic delivery goes on in clear when STARTTLS is not offered', () => {
    assert.equal(checkTlsOutcome(decideTls({ mxHost: MX, tenantPolicy: 'opportunistic' }), plain, { now: 0 }).ok, true);
  });

  for (const policy of ['required', 'verified', 'mta-sts enforce', 'DANE-EE'] as const) {
    test(`${policy} never sends in clear`, () => {
      const outcome = checkTlsOutcome(decisionFor(policy, 'trusted'), plain, { now: 0 });
      assert.equal(outcome.ok, false);
      assert.equal(outcome.resultType, 'starttls-not-supported');
      assert.match(outcome.reason ?? '', /not sending in clear/);
    });
  }

  test('MTA-STS testing records that a plaintext session would have failed', () => {
    const outcome = checkTlsOutcome(decisionFor('mta-sts testing', 'trusted'), plain, { now: 0 });
    assert.equal(outcome.ok, true);
    assert.deepEqual(outcome.evidence.testing, {
      mtaStsId: 'sts7',
      wouldFail: true,
      reason: 'no TLS session',
      resultType: 'starttls-not-supported',
    });
  });

  test('MTA-STS testing records an MX host outside the policy', () => {
    const decision = decideTls({ mxHost: 'mx.other.net', tenantPolicy: 'opportunistic', mtaSts: sts('testing') });
    const outcome = checkTlsOutcome(decision, { ...plain, hostname: 'mx.other.net' }, { now: 0 });
    assert.equal(outcome.ok, true);
    assert.equal(outcome.evidence.testing?.resultType, 'validation-failure');
  });

  test('refuses a protocol older than TLS 1.2 when TLS is mandatory', () => {
    const observed: ObservedTls = { tls: true, protocol: 'TLSv1.1', authorized: true, hostname: MX };
    const outcome = checkTlsOutcome(decisionFor('required', 'trusted'), observed, { now: 0 });
    assert.equal(outcome.ok, false);
    assert.match(outcome.reason ?? '', /TLSv1\.1/);
  });

  test('refuses a PKIX-authorized session whose leaf does not name the MX host', () => {
    const observed: ObservedTls = {
      tls: true,
      protocol: 'TLSv1.3',
      authorized: true,
      hostname: MX,
      chain: [new X509Certificate(certs.wrongHost.cert).raw],
    };
    const outcome = checkTlsOutcome(decisionFor('verified', 'trusted'), observed, { now: 0 });
    assert.equal(outcome.resultType, 'certificate-host-mismatch');
  });

  test('refuses to use a host the decision skipped', () => {
    const decision = decideTls({ mxHost: 'mx.other.net', tenantPolicy: 'opportunistic', mtaSts: sts('enforce') });
    const outcome = checkTlsOutcome(decision, { tls: true, authorized: true, hostname: 'mx.other.net' }, { now: 0 });
    assert.equal(outcome.ok, false);
    assert.match(outcome.reason ?? '', /not eligible/);
  });
});
