import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type DaneState,
  decideTls,
  type MtaStsLookup,
  planMxTls,
  type TenantTlsPolicy,
  type TlsDecision,
  tlsaRecordFor,
} from '../../src/transport-policy/index.js';
import { createTestCa } from '../support/certs.js';

const MX = 'mx1.example.com';
const cert = createTestCa('TLS Policy Test CA').issue({ hostnames: [MX] }).cert;

const sts = (mode: 'enforce' | 'testing' | 'none', mx: string[] = ['*.example.com'], id = 'sts1'): MtaStsLookup => ({
  kind: 'policy',
  domain: 'example.com',
  id,
  source: 'cache',
  fetchedAt: 0,
  expiresAt: 1,
  notes: [],
  policy: { version: 'STSv1', mode, mx, maxAge: 86400 },
});
const daneUsable: DaneState = { kind: 'secure', tlsa: [tlsaRecordFor(cert, { usage: 3, selector: 1, matchingType: 1 })] };
const daneUnusable: DaneState = { kind: 'secure', tlsa: [tlsaRecordFor(cert, { usage: 1, selector: 1, matchingType: 1 })] };
const daneFailed: DaneState = { kind: 'failed', reason: 'TLSA lookup failed (servfail) for a DNSSEC-signed host' };

interface Row {
  name: string;
  tenant: TenantTlsPolicy;
  mxHost?: string;
  mtaSts?: MtaStsLookup;
  dane?: DaneState;
  expect: Pick<TlsDecision, 'eligible' | 'requireTls' | 'verify' | 'source'> & { testing?: boolean };
  reason?: RegExp;
}

const rows: Row[] = [
  {
    name: 'opportunistic alone asks for nothing',
    tenant: 'opportunistic',
    expect: { eligible: true, requireTls: false, verify: 'none', source: 'tenant' },
  },
  {
    name: 'required alone demands TLS with any certificate',
    tenant: 'required',
    expect: { eligible: true, requireTls: true, verify: 'none', source: 'tenant' },
  },
  {
    name: 'verified alone demands a PKIX-valid certificate',
    tenant: 'verified',
    expect: { eligible: true, requireTls: true, verify: 'pkix', source: 'tenant' },
  },
  {
    name: 'MTA-STS enforce raises opportunistic to PKIX',
    tenant: 'opportunistic',
    mtaSts: sts('enforce'),
    expect: { eligible: true, requireTls: true, verify: 'pkix', source: 'mta-sts' },
  },
  {
    name: 'MTA-STS enforce raises required to PKIX',
    tenant: 'required',
    mtaSts: sts('enforce'),
    expect: { eligible: true, requireTls: true, verify: 'pkix', source: 'mta-sts' },
  },
  {
    name: 'MTA-STS enforce skips an MX host matching no pattern',
    tenant: 'opportunistic',
    mtaSts: sts('enforce', ['mail.example.net']),
    expect: { eligible: false, requireTls: true, verify: 'pkix', source: 'mta-sts' },
    reason: /matches no mx pattern/,
  },
  {
    name: 'MTA-STS testing changes nothing but is recorded',
    tenant: 'opportunistic',
    mtaSts: sts('testing', ['mail.example.net']),
    expect: { eligible: true, requireTls: false, verify: 'none', source: 'tenant', testing: true },
    reason: /testing mode/,
  },
  {
    name: 'MTA-STS testing leaves a verified tenant verified',
    tenant: 'verified',
    mtaSts: sts('testing'),
    expect: { eligible: true, requireTls: true, verify: 'pkix', source: 'tenant', testing: true },
  },
  {
    name: 'MTA-STS mode none changes nothing',
    tenant: 'required',
    mtaSts: sts('none'),
    expect: { eligible: true, requireTls: true, verify: 'none', source: 'tenant' },
  },
  {
    name: 'no MTA-STS policy changes nothing',
    tenant: 'opportunistic',
    mtaSts: { kind: 'none', domain: 'example.com', reason: 'no TXT' },
    expect: { eligible: true, requireTls: false, verify: 'none', source: 'tenant' },
    reason: /no MTA-STS policy/,
  },
  {
    name: 'an MTA-STS discovery failure without a cached policy changes nothing (RFC 8461 §3.3)',
    tenant: 'opportunistic',
    mtaSts: { kind: 'temporary-failure', domain: 'example.com', reason: 'servfail' },
    expect: { eligible: true, requireTls: false, verify: 'none', source: 'tenant' },
  },
  {
    name: 'usable DANE makes TLS mandatory and authenticated by TLSA',
    tenant: 'opportunistic',
    dane: daneUsable,
    expect: { eligible: true, requireTls: true, verify: 'dane', source: 'dane' },
  },
  {
    name: 'usable DANE satisfies a verified tenant',
    tenant: 'verified',
    dane: daneUsable,
    expect: { eligible: true, requireTls: true, verify: 'dane', source: 'dane' },
  },
  {
    name: 'usable DANE takes precedence over MTA-STS enforce (RFC 8461 §2)',
    tenant: 'opportunistic',
    dane: daneUsable,
    mtaSts: sts('enforce', ['mail.example.net']),
    expect: { eligible: true, requireTls: true, verify: 'dane', source: 'dane' },
    reason: /DANE takes precedence/,
  },
  {
    name: 'unusable DANE makes TLS mandatory without authentication (RFC 7672 §2.2)',
    tenant: 'opportunistic',
    dane: daneUnusable,
    expect: { eligible: true, requireTls: true, verify: 'none', source: 'dane' },
  },
  {
    name: 'unusable DANE does not weaken a verified tenant',
    tenant: 'verified',
    dane: daneUnusable,
    expect: { eligible: true, requireTls: true, verify: 'pkix', source: 'tenant' },
  },
  {
    name: 'unusable DANE leaves MTA-STS enforce in charge',
    tenant: 'opportunistic',
    dane: daneUnusable,
    mtaSts: sts('enforce'),
    expect: { eligible: true, requireTls: true, verify: 'pkix', source: 'mta-sts' },
  },
  {
    name: 'a failed TLSA lookup for a signed host removes the host, whatever MTA-STS says',
    tenant: 'opportunistic',
    dane: daneFailed,
    mtaSts: sts('enforce'),
    expect: { eligible: false, requireTls: true, verify: 'pkix', source: 'mta-sts' },
    reason: /servfail/,
  },
  {
    name: 'no DANE changes nothing',
    tenant: 'opportunistic',
    dane: { kind: 'none', reason: 'no TLSA' },
    expect: { eligible: true, requireTls: false, verify: 'none', source: 'tenant' },
  },
];

describe('TLS decision per MX host', () => {
  for (const row of rows) {
    test(row.name, () => {
      const d = decideTls({
        mxHost: row.mxHost ?? MX,
        tenantPolicy: row.tenant,
        ...(row.mtaSts ? { mtaSts: row.mtaSts } : {}),
        ...(row.dane ? { dane: row.dane } : {}),
      });
      const { testing, ...expected } = row.expect;
      assert.deepEqual(
        { eligible: d.eligible, requireTls: d.requireTls, verify: d.verify, source: d.source },
        expected,
        d.reasons.join('\n'),
      );
      assert.equal(d.minVersion, d.requireTls ? 'TLSv1.2' : undefined);
      assert.equal(d.testingOnly !== undefined, testing === true);
      assert.equal(d.skipReason !== undefined, !d.eligible);
      const { reason } = row;
      if (reason)
        assert.ok(
          [...d.reasons, d.skipReason ?? ''].some((r) => reason.test(r)),
          d.reasons.join('\n'),
        );
    });
  }

  test('hands the usable TLSA records and the enforced patterns to the outcome check', () => {
    const withDane = decideTls({ mxHost: MX, tenantPolicy: 'opportunistic', dane: daneUsable });
    assert.deepEqual(withDane.dane, { status: 'usable', tlsa: (daneUsable as { tlsa: unknown }).tlsa });
    const withSts = decideTls({ mxHost: 'MX1.Example.com.', tenantPolicy: 'opportunistic', mtaSts: sts('enforce') });
    assert.deepEqual(withSts.allowedMx, ['*.example.com']);
    assert.equal(withSts.servername, 'mx1.example.com');
    assert.equal(withSts.mtaSts?.id, 'sts1');
  });
});

describe('MX plan under a policy', () => {
  test('keeps the matching hosts in order and lists the skipped ones', () => {
    const plan = planMxTls({
      tenantPolicy: 'opportunistic',
      mxHosts: ['mx.other.net', 'mx1.example.com', 'mx2.example.com'],
      mtaSts: sts('enforce'),
    });
    assert.deepEqual(
      plan.candidates.map((d) => d.mxHost),
      ['mx1.example.com', 'mx2.example.com'],
    );
    assert.deepEqual(
      plan.skipped.map((d) => d.mxHost),
      ['mx.other.net'],
    );
    assert.equal(plan.deferReason, undefined);
  });

  test('defers when no host may be used', () => {
    const plan = planMxTls({ tenantPolicy: 'verified', mxHosts: ['mx.other.net'], mtaSts: sts('enforce', ['mx.example.com']) });
    assert.equal(plan.candidates.length, 0);
    assert.match(plan.deferReason ?? '', /mx\.other\.net matches no mx pattern/);
  });

  test('applies DANE per host', () => {
    const plan = planMxTls({
      tenantPolicy: 'opportunistic',
      mxHosts: ['mx1.example.com', 'mx2.example.com'],
      daneFor: (h) => (h === 'mx1.example.com' ? daneUsable : daneFailed),
    });
    assert.deepEqual(
      plan.candidates.map((d) => [d.mxHost, d.verify]),
      [['mx1.example.com', 'dane']],
    );
    assert.deepEqual(
      plan.skipped.map((d) => d.mxHost),
      ['mx2.example.com'],
    );
  });

  test('defers when there are no MX hosts', () => {
    assert.equal(planMxTls({ tenantPolicy: 'opportunistic', mxHosts: [] }).deferReason, 'no MX hosts to try');
  });
});
