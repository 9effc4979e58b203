import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startPlatform } from '../support/platform.js';
import { brokenZone, goodZone, startLab } from './posture-lab.js';

/**
 * The posture routes on a whole platform whose resolver is the loopback DNS server. The platform's
 * HTTPS fetches use the public trust store, so MTA-STS and BIMI fetches fail here (loopback :443);
 * what is checked is the API surface: audits, reports, watch list, settings and history.
 */
test('GET /v1/audits audits any domain and names the field of a bad one', async (t) => {
  const zone = {
    ...goodZone(),
    ...brokenZone(),
    'example.net': { TXT: ['v=spf1 include:sendgrid.net -all'] },
    'sendgrid.net': { TXT: ['v=spf1 ip4:203.0.113.0/24 -all'] },
  };
  const lab = await startLab(t, { zone });
  const p = await startPlatform(t, { config: { dns: { servers: [lab.dns.address] } }, clock: lab.clock });
  const r = await p.request('GET', '/v1/audits?domain=broken.example&selectors=weak,old');
  assert.equal(r.status, 200);
  assert.equal(r.body.domain, 'broken.example');
  const found = new Set((r.body.findings as { id: string }[]).map((f) => f.id));
  for (const id of ['mx.cname-target', 'spf.plus-all', 'dkim.weak-rsa', 'dmarc.policy-none']) assert.ok(found.has(id), id);
  assert.ok(r.body.queries.some((q: { name: string; type: string }) => q.name === 'weak._domainkey.broken.example' && q.type === 'TXT'));

  const bad = await p.request('GET', '/v1/audits?domain=not%20a%20domain');
  assert.equal(bad.status, 422);
  assert.equal(bad.body.errors[0].path, '/domain');

  const report = await fetch(`${p.url}/v1/audits/report?domain=good.example&format=html`, {
    headers: { authorization: `Bearer ${p.key}` },
  });
  assert.equal(report.status, 200);
  assert.match(report.headers.get('content-type') ?? '', /text\/html/);
  const digest = report.headers.get('x-report-digest') ?? '';
  assert.match(digest, /^[0-9a-f]{64}$/);
  assert.ok((await report.text()).includes(digest));

  // The tenant's register reaches the audit: a service on the apex gets its subdomain proposal.
  const entry = await p.request('POST', '/v1/third-parties', {
    name: 'Newsletter service',
    delegation_subdomain: 'news',
    identifiers: { spf_includes: ['sendgrid.net'] },
  });
  assert.equal(entry.status, 201);
  assert.equal(entry.body.delegation_subdomain, 'news');
  const withRegister = await p.request('GET', '/v1/audits?domain=example.net');
  const proposal = (withRegister.body.findings as { id: string; subject: string; fix: string; evidence: Record<string, unknown> }[]).find(
    (f) => f.id === 'third-party.on-apex',
  );
  assert.ok(proposal, 'third-party.on-apex is in the audit');
  assert.equal(proposal.subject, 'news.example.net');
  assert.equal(proposal.evidence.third_party_id, entry.body.id);
  assert.match(proposal.fix, /^news\.example\.net\. IN TXT "v=spf1 include:sendgrid\.net -all"$/m);
});

test('watch list, approved MX and DNS history of a managed domain', async (t) => {
  const zone = { ...goodZone(), 'example.com': { MX: [{ priority: 10, exchange: 'mx1.good.example' }] } };
  const lab = await startLab(t, { zone });
  const p = await startPlatform(t, { config: { dns: { servers: [lab.dns.address] } }, clock: lab.clock });
  assert.deepEqual((await p.request('GET', '/v1/posture/settings')).body, { approved_mx: null });
  const set = await p.request('PUT', '/v1/posture/settings', { approved_mx: ['*.Good.Example.', 'mx1.good.example'] });
  assert.deepEqual(set.body, { approved_mx: ['*.good.example', 'mx1.good.example'] });
  assert.equal((await p.request('POST', '/v1/dns-watch', { domain: 'good.example' })).status, 201);
  assert.equal((await p.request('POST', '/v1/dns-watch', { domain: 'good.example' })).status, 200);
  assert.deepEqual(
    (await p.request('GET', '/v1/dns-watch')).body.data.map((w: { domain: string }) => w.domain),
    ['good.example'],
  );

  assert.equal(await p.platform.posture.runDue(), 2, 'the managed example.com and the watched good.example');
  lab.dns.setZone({
    ...zone,
    'example.com': { MX: [{ priority: 10, exchange: 'mx.elsewhere.example' }] },
    'mx.elsewhere.example': { A: ['203.0.113.5'] },
  });
  lab.clock.advance(24 * 3_600_000);
  assert.equal(await p.platform.posture.runDue(), 2);

  const domains = (await p.request('GET', '/v1/domains')).body.data as { id: string; name: string }[];
  const id = domains.find((d) => d.name === 'example.com')!.id;
  const history = await p.request('GET', `/v1/domains/${id}/dns-history`);
  assert.equal(history.status, 200);
  assert.equal(history.body.data.length, 2);
  assert.deepEqual(
    history.body.data[1].alerts.map((a: { kind: string }) => a.kind),
    ['mx-unapproved'],
  );
  const events = await p.request('GET', '/v1/events?type=dns.alert');
  assert.equal(events.status, 200);
  assert.deepEqual(
    events.body.data.map((e: { type: string; data: { domain: string } }) => [e.type, e.data.domain]),
    [['dns.alert', 'example.com']],
  );
  assert.equal((await p.request('DELETE', '/v1/dns-watch/good.example')).status, 204);
  assert.equal((await p.request('DELETE', '/v1/dns-watch/good.example')).status, 404);
});
