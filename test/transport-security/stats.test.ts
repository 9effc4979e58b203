import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tlsaRecordFor } from '../../src/transport-policy/index.js';
import { startTlsLab } from './tls-lab.js';

/**
 * Done-means 4 of issue 6: `GET /v1/stats/tls` reports shares that match the attempts this test
 * caused, per tenant, period and domain; plus the API edges of the tenant TLS policy.
 */
test('the TLS statistics endpoint reports the shares of the attempts made', { timeout: 60_000 }, async (t) => {
  const lab = await startTlsLab(t, {
    'plain.test': { sink: 'none' },
    'self.test': { sink: 'self-signed' },
    'ca.test': { sink: 'ca' },
    'sts.test': { sink: 'ca', mtaSts: { mode: 'enforce' } },
    'dane.test': { sink: 'self-signed', tlsa: ({ leaf }) => [tlsaRecordFor(leaf, { usage: 3, selector: 1, matchingType: 1 })] },
  });
  const start = Date.now();
  // Opportunistic: 2 in clear, 1 over unverified TLS, 1 verified, 1 under MTA-STS, 1 under DANE.
  for (const to of ['a@plain.test', 'b@plain.test', 'c@self.test', 'd@ca.test', 'e@sts.test', 'f@dane.test']) {
    assert.equal((await lab.outcome(await lab.send(to))).type, 'recipient.delivered', to);
  }
  // Verified: the self-signed server is refused (a policy failure, not a delivery).
  await lab.setTenantPolicy({ default: 'verified' });
  assert.equal((await lab.outcome(await lab.send('g@self.test'))).type, 'recipient.deferred');

  const from = new Date(start - 1000).toISOString();
  const to = new Date(Date.now() + 1000).toISOString();
  const res = await lab.p.request('GET', `/v1/stats/tls?from=${from}&to=${to}`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const total = res.body.total;
  assert.equal(total.deliveries, 6);
  assert.equal(total.over_tls, 4);
  assert.equal(total.verified_tls, 3);
  assert.equal(total.mta_sts_enforced, 1);
  assert.equal(total.dane, 1);
  assert.equal(total.policy_failures, 1);
  assert.deepEqual(total.share, { over_tls: 0.6667, verified_tls: 0.5, mta_sts_enforced: 0.1667, dane: 0.1667 });
  assert.deepEqual(
    res.body.domains.map((d: any) => [d.domain, d.deliveries, d.over_tls, d.verified_tls]),
    [
      ['ca.test', 1, 1, 1],
      ['dane.test', 1, 1, 1],
      ['plain.test', 2, 0, 0],
      ['self.test', 1, 1, 0],
      ['sts.test', 1, 1, 1],
    ],
  );

  // The same figures are the transport evidence of the DNS posture report (issue: posture evidence).
  const report = await lab.p.request('GET', '/v1/audits/report?domain=example.com&format=json');
  assert.equal(report.status, 200);
  assert.deepEqual(
    [report.body.transportTls.deliveries, report.body.transportTls.tlsShare, report.body.transportTls.verifiedShare],
    [6, 0.6667, 0.5],
  );
  assert.equal(report.headers.get('x-report-digest'), report.body.digest.value);

  const one = await lab.p.request('GET', `/v1/stats/tls?from=${from}&to=${to}&domain=self.test`);
  assert.equal(one.status, 200);
  assert.equal(one.body.total.deliveries, 1);
  assert.equal(one.body.total.policy_failures, 1);
  assert.equal(one.body.total.share.verified_tls, 0);

  // A period before any attempt: nothing, and no division by zero.
  const empty = await lab.p.request('GET', `/v1/stats/tls?from=2020-01-01&to=2020-01-02`);
  assert.deepEqual(empty.body.total.share, { over_tls: 0, verified_tls: 0, mta_sts_enforced: 0, dane: 0 });
  assert.equal(empty.body.total.deliveries, 0);

  const bad = await lab.p.request('GET', '/v1/stats/tls?from=yesterday');
  assert.equal(bad.status, 422);
  assert.equal(bad.headers.get('content-type')?.split(';')[0], 'application/problem+json');
  assert.deepEqual(
    bad.body.errors.map((e: any) => e.path),
    ['/query/from'],
  );
});

test('the tenant TLS policy API checks its input and needs the admin scope', { timeout: 30_000 }, async (t) => {
  const lab = await startTlsLab(t, { 'plain.test': { sink: 'none' } });
  const dflt = await lab.p.request('GET', '/v1/tenant/tls-policy');
  assert.deepEqual(dflt.body, { default: 'opportunistic', streams: {} });

  const bad = await lab.p.request('PUT', '/v1/tenant/tls-policy', { default: 'paranoid', streams: { bulk: 'verified' } });
  assert.equal(bad.status, 422);
  const paths = bad.body.errors.map((e: any) => e.path).sort();
  assert.ok(paths.includes('/default'), JSON.stringify(bad.body));

  const badStream = await lab.p.request('PUT', '/v1/tenant/tls-policy', { default: 'required', streams: { bulk: 'verified' } });
  assert.equal(badStream.status, 422);
  assert.deepEqual(
    badStream.body.errors.map((e: any) => e.path),
    ['/streams/bulk'],
  );

  const ok = await lab.p.request('PUT', '/v1/tenant/tls-policy', { default: 'required', streams: { marketing: 'opportunistic' } });
  assert.equal(ok.status, 200);
  assert.deepEqual((await lab.p.request('GET', '/v1/tenant/tls-policy')).body, {
    default: 'required',
    streams: { marketing: 'opportunistic' },
  });

  const { secret } = await lab.p.platform.tenants.createKey({ tenantId: lab.p.tenantId, scopes: ['read'] });
  const denied = await lab.p.request('PUT', '/v1/tenant/tls-policy', { default: 'opportunistic' }, { authorization: `Bearer ${secret}` });
  assert.equal(denied.status, 403);
});
