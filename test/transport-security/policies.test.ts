import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { test } from 'node:test';
import type { SpineEvent } from '../../src/core/index.js';
import { tlsaRecordFor } from '../../src/transport-policy/index.js';
import { fakeClock } from '../support/clock.js';
import { type LabDomain, otherCa, sinkCertificate, startTlsLab } from './tls-lab.js';

/**
 * Done-means 1 of issue 6: every policy against loopback sinks offering no TLS, a self-signed
 * certificate, a test-CA certificate and a certificate for the wrong host name. Each case checks the
 * outcome, the evidence on the event and in the attempt record, and — for every strict policy that
 * defers — that the sink accepted nothing.
 */
const DOMAINS: Record<string, LabDomain> = {
  'plain.test': { sink: 'none' },
  'selfsigned.test': { sink: 'self-signed' },
  'ca.test': { sink: 'ca' },
  'wrongname.test': { sink: 'wrong-name' },
  // MTA-STS (tenant stays opportunistic: the destination alone makes it strict).
  'sts-ok.test': { sink: 'ca', mtaSts: { mode: 'enforce' } },
  'sts-selfsigned.test': { sink: 'self-signed', mtaSts: { mode: 'enforce' } },
  'sts-plain.test': { sink: 'none', mtaSts: { mode: 'enforce' } },
  'sts-mxmismatch.test': { sink: 'ca', mtaSts: { mode: 'enforce', mx: ['mx.elsewhere.test'] } },
  'sts-testing.test': { sink: 'self-signed', mtaSts: { mode: 'testing' } },
  // DANE: TLSA answers carry the AD bit.
  'dane3.test': { sink: 'self-signed', tlsa: ({ leaf }) => [tlsaRecordFor(leaf, { usage: 3, selector: 1, matchingType: 1 })] },
  'dane3-bad.test': {
    sink: 'self-signed',
    tlsa: () => [tlsaRecordFor(otherCa.issue({ hostnames: ['x.test'] }).cert, { usage: 3, selector: 1, matchingType: 1 })],
  },
  'dane2.test': { sink: 'ca-chain', tlsa: ({ ca }) => [tlsaRecordFor(ca, { usage: 2, selector: 0, matchingType: 1 })] },
  'dane2-bad.test': { sink: 'ca-chain', tlsa: () => [tlsaRecordFor(otherCa.cert, { usage: 2, selector: 0, matchingType: 1 })] },
  // The same mismatching TLSA without DNSSEC: not DANE at all, so opportunistic delivery goes on.
  'dane-insecure.test': {
    sink: 'self-signed',
    insecure: true,
    tlsa: () => [tlsaRecordFor(otherCa.issue({ hostnames: ['x.test'] }).cert, { usage: 3, selector: 1, matchingType: 1 })],
  },
  'dane-plain.test': { sink: 'none', tlsa: ({ leaf }) => [tlsaRecordFor(leaf, { usage: 3, selector: 1, matchingType: 1 })] },
  // DANE takes precedence: MTA-STS enforce would refuse this self-signed certificate, DANE-EE accepts it.
  'dane-over-sts.test': {
    sink: 'self-signed',
    mtaSts: { mode: 'enforce' },
    tlsa: ({ leaf }) => [tlsaRecordFor(leaf, { usage: 3, selector: 1, matchingType: 1 })],
  },
};

interface Case {
  tenant: 'opportunistic' | 'required' | 'verified';
  domain: string;
  expect: 'delivered' | 'deferred';
  verification?: RegExp;
  source?: string;
  enforcedBy?: string | null;
  resultType?: string | null;
  mode?: string;
}

const CASES: Case[] = [
  { tenant: 'opportunistic', domain: 'plain.test', expect: 'delivered', verification: /^none$/, mode: 'opportunistic' },
  { tenant: 'opportunistic', domain: 'selfsigned.test', expect: 'delivered', verification: /^pkix-invalid/ },
  { tenant: 'opportunistic', domain: 'ca.test', expect: 'delivered', verification: /^pkix-valid$/ },
  { tenant: 'required', domain: 'plain.test', expect: 'deferred', resultType: 'starttls-not-supported', mode: 'required' },
  { tenant: 'required', domain: 'selfsigned.test', expect: 'delivered', verification: /^pkix-invalid/, mode: 'required' },
  { tenant: 'required', domain: 'wrongname.test', expect: 'delivered', verification: /^pkix-invalid/ },
  { tenant: 'verified', domain: 'plain.test', expect: 'deferred', resultType: 'starttls-not-supported', mode: 'verify-pkix' },
  { tenant: 'verified', domain: 'selfsigned.test', expect: 'deferred', resultType: 'certificate-not-trusted' },
  { tenant: 'verified', domain: 'wrongname.test', expect: 'deferred', resultType: 'certificate-host-mismatch' },
  { tenant: 'verified', domain: 'ca.test', expect: 'delivered', verification: /^pkix-valid$/, source: 'tenant', mode: 'verify-pkix' },
  {
    tenant: 'opportunistic',
    domain: 'sts-ok.test',
    expect: 'delivered',
    verification: /^pkix-valid$/,
    source: 'mta-sts',
    enforcedBy: 'mta-sts',
  },
  { tenant: 'opportunistic', domain: 'sts-selfsigned.test', expect: 'deferred', resultType: 'certificate-not-trusted', source: 'mta-sts' },
  { tenant: 'opportunistic', domain: 'sts-plain.test', expect: 'deferred', resultType: 'starttls-not-supported', source: 'mta-sts' },
  { tenant: 'opportunistic', domain: 'sts-mxmismatch.test', expect: 'deferred', resultType: 'validation-failure' },
  { tenant: 'opportunistic', domain: 'sts-testing.test', expect: 'delivered', resultType: 'certificate-not-trusted', enforcedBy: null },
  {
    tenant: 'opportunistic',
    domain: 'dane3.test',
    expect: 'delivered',
    verification: /^dane-valid$/,
    source: 'dane',
    enforcedBy: 'dane',
    mode: 'dane',
  },
  {
    tenant: 'opportunistic',
    domain: 'dane3-bad.test',
    expect: 'deferred',
    verification: /^dane-invalid/,
    resultType: 'validation-failure',
  },
  { tenant: 'verified', domain: 'dane2.test', expect: 'delivered', verification: /^dane-valid$/, source: 'dane', enforcedBy: 'dane' },
  {
    tenant: 'opportunistic',
    domain: 'dane2-bad.test',
    expect: 'deferred',
    verification: /^dane-invalid/,
    resultType: 'validation-failure',
  },
  {
    tenant: 'opportunistic',
    domain: 'dane-insecure.test',
    expect: 'delivered',
    verification: /^pkix-invalid/,
    source: 'tenant',
    enforcedBy: null,
  },
  { tenant: 'opportunistic', domain: 'dane-plain.test', expect: 'deferred', resultType: 'starttls-not-supported' },
  { tenant: 'opportunistic', domain: 'dane-over-sts.test', expect: 'delivered', verification: /^dane-valid$/, enforcedBy: 'dane' },
];

test('each TLS policy yields the right decision and evidence against each kind of sink', { timeout: 120_000 }, async (t) => {
  const lab = await startTlsLab(t, DOMAINS);
  let n = 0;
  for (const c of CASES) {
    const label = `${c.tenant} → ${c.domain}`;
    await lab.setTenantPolicy({ default: c.tenant });
    const sink = lab.sinks.get(c.domain)!;
    const before = sink.accepted;
    const to = `user${n++}@${c.domain}`;
    const id = await lab.send(to);
    const event = await lab.outcome(id);
    assert.equal(event.type, `recipient.${c.expect}`, `${label}: ${JSON.stringify(event.data.reply ?? event.data)}`);
    const tls = event.data.tls as Record<string, any>;
    assert.ok(tls, `${label}: the event carries TLS evidence`);
    const [attempt, ...more] = (await lab.attempts(id)).filter((a) => a.outcome !== 'skipped');
    assert.ok(attempt, `${label}: an attempt record was stored`);
    assert.equal(more.length, 0, `${label}: one attempt record per attempt`);
    assert.equal(attempt.tenantPolicy, c.tenant);
    if (c.mode) assert.equal(tls.policy.mode, c.mode, `${label}: session mode`);
    if (c.source) assert.equal(tls.policy.source, c.source, `${label}: policy source`);
    if (c.enforcedBy !== undefined) assert.equal(attempt.enforcedBy, c.enforcedBy, `${label}: enforced by`);
    if (c.verification) {
      assert.match(String(tls.verification), c.verification, `${label}: verification`);
      assert.match(attempt.verification, c.verification);
    }
    if (c.resultType !== undefined) assert.equal(attempt.rptResult, c.resultType, `${label}: RFC 8460 result type (${attempt.rptReason})`);

    if (c.expect === 'deferred') {
      // Never in clear, never to an unverified server: the sink took nothing.
      assert.equal(sink.accepted, before, `${label}: the sink accepted nothing`);
      assert.equal(event.data.code, 451, `${label}: a temporary local reply`);
      assert.match(String(event.data.enhanced), /^4\.7\./, `${label}: enhanced code 4.7.x`);
    } else {
      assert.equal(sink.accepted, before + 1, `${label}: the sink accepted the message`);
      const got = sink.messages[sink.messages.length - 1]!;
      assert.deepEqual(got.to, [to]);
      if (tls.negotiated) {
        // The evidence names the certificate the sink really presented, with its TLS version and cipher.
        const own = sinkCertificate(c.domain, DOMAINS[c.domain]!.sink);
        assert.notEqual(own, 'none');
        const leafPem = own === 'none' ? '' : own.cert.split(/(?<=-----END CERTIFICATE-----\n?)/)[0]!;
        const der = new X509Certificate(leafPem).raw;
        assert.equal(tls.cert_sha256, createHash('sha256').update(der).digest('hex'), `${label}: certificate fingerprint`);
        assert.equal(attempt.certSha256, tls.cert_sha256);
        assert.equal(tls.version, got.tls?.protocol, `${label}: TLS version as the sink saw it`);
        assert.ok(tls.cipher && attempt.cipher === tls.cipher, `${label}: cipher recorded`);
        assert.match(String(tls.version), /^TLSv1\.[23]$/);
      } else {
        assert.equal(got.tls, null, `${label}: delivered in clear only under an opportunistic policy`);
        assert.equal(c.tenant, 'opportunistic');
      }
    }
  }
  // MTA-STS mismatch: no host may be used, so nothing even connected.
  assert.equal(lab.sinks.get('sts-mxmismatch.test')!.connections, 0, 'no connection to an MX host the policy does not list');
  // No plaintext sink ever received mail under a strict policy.
  for (const d of ['plain.test', 'sts-plain.test', 'dane-plain.test']) {
    const sink = lab.sinks.get(d)!;
    const strictDeliveries = d === 'plain.test' ? 1 : 0; // only the opportunistic case
    assert.equal(sink.accepted, strictDeliveries, `${d}: nothing under a strict policy`);
  }
});

test('a stream policy overrides the tenant default and a deferral expires with the TLS reason', { timeout: 60_000 }, async (t) => {
  const clock = fakeClock(Date.now());
  const lab = await startTlsLab(t, { 'plain.test': { sink: 'none' } }, { platform: { clock }, config: { delivery: { maxAgeHours: 1 } } });
  await lab.setTenantPolicy({ default: 'opportunistic', streams: { transactional: 'verified' } });
  const marketing = await lab.send('a@plain.test', 'marketing');
  assert.equal((await lab.outcome(marketing)).type, 'recipient.delivered', 'marketing stays opportunistic');
  const transactional = await lab.send('b@plain.test', 'transactional');
  const first = await lab.outcome(transactional);
  assert.equal(first.type, 'recipient.deferred');
  assert.match(String(first.data.reply), /STARTTLS/);
  // Past the retry and past maxAgeHours: the next claim expires it, naming the TLS reason.
  clock.advance(2 * 3_600_000);
  let expired: SpineEvent | undefined;
  for (let i = 0; i < 200 && !expired; i++) {
    [expired] = await lab.p.platform.store.events.page({ messageId: transactional, types: ['recipient.expired'], limit: 1 });
    if (!expired) await new Promise((r) => setTimeout(r, 25));
  }
  assert.ok(expired, 'the recipient expired');
  assert.match(String(expired.data.reason), /STARTTLS/, 'the expiry carries the TLS reason');
  assert.equal(lab.sinks.get('plain.test')!.accepted, 1, 'only the marketing message reached the plaintext sink');
});

test('a connection shared by two domains records each attempt under its own domain and policy', { timeout: 30_000 }, async (t) => {
  // two.test points at one.test's MX host; both publish testing policies (same requirements): one pool.
  const lab = await startTlsLab(
    t,
    {
      'one.test': { sink: 'ca', mtaSts: { mode: 'testing', id: 'one1' } },
      'two.test': { sink: 'none', mtaSts: { mode: 'testing', mx: ['mx.one.test'], id: 'two1' } },
    },
    { extraZone: { 'two.test': { MX: [{ priority: 10, exchange: 'mx.one.test' }] } } },
  );
  const first = await lab.send('a@one.test');
  assert.equal((await lab.outcome(first)).type, 'recipient.delivered');
  const second = await lab.send('b@two.test');
  const event = await lab.outcome(second);
  assert.equal(event.type, 'recipient.delivered');
  const [a] = await lab.attempts(first);
  const [b] = await lab.attempts(second);
  assert.equal(a?.sessionId, b?.sessionId, 'the second message reused the connection');
  assert.deepEqual([a?.domain, a?.mtaStsId], ['one.test', 'one1']);
  assert.deepEqual([b?.domain, b?.mtaStsId], ['two.test', 'two1'], "two.test's own policy, not one.test's");
  assert.ok(b?.rptPolicyString.includes('mx: mx.one.test'));
  assert.equal((event.data.tls as any).policy.mta_sts.id, 'two1');
  assert.equal(lab.sinks.get('one.test')!.accepted, 2);
});
