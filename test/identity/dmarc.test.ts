import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkReportDestinations, discoverPolicy, evaluateDmarc, parseDmarcRecord } from '../../src/identity/index.js';
import { zoneResolver } from './zone-resolver.js';

test('a record at the author domain applies its p', async () => {
  const resolver = zoneResolver({ '_dmarc.example.com': { TXT: ['v=DMARC1; p=reject; sp=none'] } });
  const d = await discoverPolicy('example.com', { resolver });
  assert.deepEqual(
    [d.status, d.policyDomain, d.policy, d.policySource, d.orgDomain],
    ['found', 'example.com', 'reject', 'p', 'example.com'],
  );
});

test('a record found above the author domain applies sp to the subdomain', async () => {
  const resolver = zoneResolver({
    '_dmarc.example.com': { TXT: ['v=DMARC1; p=reject; sp=quarantine; np=reject'] },
    'news.example.com': { MX: [{ exchange: 'mx.example.com', priority: 10 }] },
  });
  const d = await discoverPolicy('news.example.com', { resolver });
  assert.deepEqual([d.policyDomain, d.policy, d.policySource], ['example.com', 'quarantine', 'sp']);
});

test('np applies to a subdomain that does not exist', async () => {
  const resolver = zoneResolver({ '_dmarc.example.com': { TXT: ['v=DMARC1; p=quarantine; sp=none; np=reject'] } });
  const d = await discoverPolicy('ghost.example.com', { resolver });
  assert.deepEqual([d.policy, d.policySource], ['reject', 'np']);
});

test('the tree walk finds an intermediate record that the PSL method skips', async () => {
  const zone = {
    '_dmarc.mail.example.com': { TXT: ['v=DMARC1; p=reject'] },
    '_dmarc.example.com': { TXT: ['v=DMARC1; p=none'] },
    'a.mail.example.com': { A: ['192.0.2.1'] },
  };
  const walk = await discoverPolicy('a.mail.example.com', { resolver: zoneResolver(zone) });
  assert.deepEqual([walk.policyDomain, walk.policy, walk.orgDomain], ['mail.example.com', 'reject', 'example.com']);
  const psl = await discoverPolicy('a.mail.example.com', { resolver: zoneResolver(zone), method: 'psl' });
  assert.deepEqual([psl.policyDomain, psl.policy, psl.orgDomainMethod], ['example.com', 'none', 'psl']);
});

test('a long name is walked with at most eight queries', async () => {
  const resolver = zoneResolver({});
  const d = await discoverPolicy('a.b.c.d.e.f.g.h.i.example.com', { resolver });
  assert.equal(d.status, 'none');
  const dmarcQueries = new Set(resolver.queries.filter((q) => q.startsWith('TXT _dmarc.')));
  assert.equal(dmarcQueries.size, 8);
});

test('several DMARC records at one name are discarded and the walk goes on', async () => {
  const resolver = zoneResolver({
    '_dmarc.mail.example.com': { TXT: ['v=DMARC1; p=none', 'v=DMARC1; p=reject'] },
    '_dmarc.example.com': { TXT: ['v=DMARC1; p=quarantine'] },
  });
  const d = await discoverPolicy('mail.example.com', { resolver });
  assert.equal(d.policyDomain, 'example.com');
  assert.equal(d.lookups[0]!.outcome, 'multiple');
});

test('a DNS error during discovery is a temperror, not "no policy"', async () => {
  const resolver = zoneResolver({ '_dmarc.example.com': { error: 'timeout' } });
  const d = await discoverPolicy('example.com', { resolver });
  assert.equal(d.status, 'temperror');
  assert.equal(
    evaluateDmarc({ fromDomain: 'example.com', spf: { result: 'fail', domain: 'example.com' }, dkim: [] }, d).result,
    'temperror',
  );
});

test('an internal report destination needs no authorization record', async () => {
  const resolver = zoneResolver({});
  const parsed = parseDmarcRecord('v=DMARC1; p=none; rua=mailto:dmarc@reports.example.com');
  assert.ok(parsed.ok);
  const [check] = await checkReportDestinations('example.com', parsed.record, { resolver });
  assert.deepEqual([check!.external, check!.authorized], [false, true]);
  assert.deepEqual(resolver.queries, []);
});

test('an external report destination is authorized by its _report._dmarc record (RFC 7489 §7.1)', async () => {
  const resolver = zoneResolver({
    'example.com._report._dmarc.thirdparty.example.net': {
      TXT: ['v=DMARC1; rua=mailto:other@thirdparty.example.net,mailto:x@evil.example'],
    },
  });
  const parsed = parseDmarcRecord('v=DMARC1; p=none; rua=mailto:d@thirdparty.example.net,mailto:d@unwilling.example.org');
  assert.ok(parsed.ok);
  const checks = await checkReportDestinations('example.com', parsed.record, { resolver });
  assert.deepEqual(
    checks.map((c) => [c.destination, c.external, c.authorized, c.queried]),
    [
      ['thirdparty.example.net', true, true, 'example.com._report._dmarc.thirdparty.example.net'],
      ['unwilling.example.org', true, false, 'example.com._report._dmarc.unwilling.example.org'],
    ],
  );
  // The destination may redirect reports, but only to its own host.
  assert.deepEqual(checks[0]!.override, ['mailto:other@thirdparty.example.net']);
});

test('a DNS error leaves a destination unknown rather than unauthorized', async () => {
  const resolver = zoneResolver({ 'example.com._report._dmarc.slow.example.net': { error: 'timeout' } });
  const parsed = parseDmarcRecord('v=DMARC1; p=none; rua=mailto:d@slow.example.net');
  assert.ok(parsed.ok);
  const [check] = await checkReportDestinations('example.com', parsed.record, { resolver });
  assert.equal(check!.authorized, null);
});

async function policy(text: string) {
  return discoverPolicy('example.com', { resolver: zoneResolver({ '_dmarc.example.com': { TXT: [text] } }) });
}

test('DMARC passes on a passing DKIM signature aligned in relaxed mode', async () => {
  const e = evaluateDmarc(
    {
      fromDomain: 'example.com',
      spf: { result: 'pass', domain: 'bounces.esp.example' },
      dkim: [{ result: 'pass', domain: 'mail.example.com' }],
    },
    await policy('v=DMARC1; p=reject'),
  );
  assert.deepEqual(
    [e.result, e.disposition, e.alignment.dkim.alignedDomain, e.alignment.spf.aligned],
    ['pass', 'none', 'mail.example.com', false],
  );
});

test('strict DKIM alignment refuses a subdomain signature', async () => {
  const e = evaluateDmarc(
    { fromDomain: 'example.com', spf: { result: 'fail', domain: 'example.com' }, dkim: [{ result: 'pass', domain: 'mail.example.com' }] },
    await policy('v=DMARC1; p=reject; adkim=s'),
  );
  assert.deepEqual([e.result, e.disposition], ['fail', 'reject']);
});

test('SPF passes DMARC only when it passes for an aligned domain', async () => {
  const p = await policy('v=DMARC1; p=quarantine');
  assert.equal(evaluateDmarc({ fromDomain: 'example.com', spf: { result: 'pass', domain: 'b.example.com' }, dkim: [] }, p).result, 'pass');
  assert.equal(
    evaluateDmarc({ fromDomain: 'example.com', spf: { result: 'softfail', domain: 'example.com' }, dkim: [] }, p).result,
    'fail',
  );
  assert.equal(
    evaluateDmarc(
      { fromDomain: 'example.com', spf: { result: 'pass', domain: 'b.example.com' }, dkim: [] },
      await policy('v=DMARC1; p=quarantine; aspf=s'),
    ).result,
    'fail',
  );
});

test('t=y applies one policy level less on failure', async () => {
  const e = evaluateDmarc(
    { fromDomain: 'example.com', spf: { result: 'fail', domain: 'example.com' }, dkim: [] },
    await policy('v=DMARC1; p=reject; t=y'),
  );
  assert.deepEqual([e.result, e.policy, e.disposition, e.testing], ['fail', 'reject', 'quarantine', true]);
});

test('no published policy gives none', () => {
  const e = evaluateDmarc({ fromDomain: 'example.com', spf: { result: 'fail', domain: 'example.com' }, dkim: [] }, null);
  assert.deepEqual([e.result, e.disposition], ['none', 'none']);
});
