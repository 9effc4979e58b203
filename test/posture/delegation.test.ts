import assert from 'node:assert/strict';
import { after, before, type TestContext, test } from 'node:test';
import { createRegister, type Register } from '../../src/compliance/index.js';
import { newId } from '../../src/core/index.js';
import { createResolver } from '../../src/dns/index.js';
import { type AuditResult, auditDomain, createHttpsGetter, createPostureMonitor, type PostureMonitor } from '../../src/posture/index.js';
import type { Store } from '../../src/store/index.js';
import { createHttpsPolicyFetcher } from '../../src/transport-policy/index.js';
import { fakeClock } from '../support/clock.js';
import { openStore } from '../support/dialects.js';
import { type DnsTestServer, startDnsServer, type Zone } from '../support/dns-server.js';

/**
 * Subdomain delegation proposals (issue #21): a register entry whose SPF include is in the apex's
 * own SPF record (or that signs as the apex) gets `third-party.on-apex` in the tenant's audit, with
 * the records of its own subdomain, the apex SPF without its include and the lookups before and
 * after; an entry already on its own subdomain gets none. The monitor reads the register the way
 * the platform wires it. One loopback DNS server and one SQLite store for the file.
 */
const clock = fakeClock(Date.UTC(2026, 11, 6, 9, 0, 0));
const zone: Zone = {
  'example.com': {
    MX: [{ priority: 10, exchange: 'mx.example.com' }],
    TXT: ['v=spf1 mx include:_spf.google.com include:sendgrid.net -all'],
  },
  'mx.example.com': { A: ['192.0.2.25'] },
  '_spf.google.com': { TXT: ['v=spf1 include:_netblocks.google.com ~all'] },
  '_netblocks.google.com': { TXT: ['v=spf1 ip4:198.51.100.0/24 ~all'] },
  'sendgrid.net': { TXT: ['v=spf1 ip4:203.0.113.0/24 -all'] },
  's1._domainkey.example.com': { CNAME: 's1.domainkey.u42.wl.sendgrid.net' },
  's1.domainkey.u42.wl.sendgrid.net': { TXT: ['v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA'] },
  '_dmarc.example.com': { TXT: ['v=DMARC1; p=reject; rua=mailto:dmarc@example.com'] },
  // Mailgun already has its own subdomain.
  'mg.example.com': { TXT: ['v=spf1 include:mailgun.org -all'] },
  'mailgun.org': { TXT: ['v=spf1 ip4:192.0.2.128/25 -all'] },
  // A domain whose DMARC does not cover its subdomains, and a service that signs as it.
  'example.org': { MX: [{ priority: 10, exchange: 'mx.example.com' }], TXT: ['v=spf1 mx ip4:192.0.2.0/24 -all'] },
  '_dmarc.example.org': { TXT: ['v=DMARC1; p=quarantine; sp=none; rua=mailto:dmarc@example.org'] },
};

let dns: DnsTestServer;
let store: Store;
let register: Register;
let monitor: PostureMonitor;
let seenCalls = 0;
const tenantId = newId('ten');
const emptyTenantId = newId('ten');
const teardown: (() => unknown)[] = [];

function auditDeps() {
  const resolver = createResolver({ servers: [dns.address], clock, cache: false, timeoutMs: 1000, tries: 1 });
  return {
    resolver,
    clock,
    fetchPolicy: createHttpsPolicyFetcher({ resolver, timeoutMs: 500 }),
    fetchHttps: createHttpsGetter({ resolver, timeoutMs: 500 }),
    queryTimeoutMs: 1000,
  };
}

before(async () => {
  const ctx = { after: (fn: () => unknown) => teardown.push(fn) } as unknown as TestContext;
  dns = await startDnsServer(ctx, zone);
  store = await openStore(ctx, 'sqlite');
  for (const id of [tenantId, emptyTenantId]) {
    await store.tenants.insert({ id, name: id, sandbox: false, maxMessageBytes: null, ratePerMinute: null, createdAt: 1 });
  }
  const domainId = newId('dom');
  await store.domains.insert({ id: domainId, tenantId, name: 'example.com', createdAt: 1 });
  register = createRegister({ store, clock });
  // As src/platform.ts wires it.
  monitor = createPostureMonitor({
    ...auditDeps(),
    store,
    clock,
    intervalMs: 86_400_000,
    thirdParties: async (t, domain) => ({
      senders: await register.senders(t),
      seenSources: (ids) => {
        seenCalls += 1;
        return register.seenSources(t, domain, ids);
      },
    }),
  });
  await register.create(tenantId, {
    name: 'Newsletter service',
    identifiers: { spf_includes: ['sendgrid.net'], dkim_selectors: ['s1'], ips: ['203.0.113.0/24'] },
  });
  await register.create(tenantId, { name: 'Google Workspace', identifiers: { spf_includes: ['_spf.google.com'] } });
  await register.create(tenantId, { name: 'Mailgun', identifiers: { spf_includes: ['mailgun.org'], dkim_domains: ['mg.example.com'] } });
  await register.create(tenantId, {
    name: 'Billing',
    delegation_subdomain: 'invoices',
    identifiers: { dkim_domains: ['example.org'], ips: ['192.0.2.64/26'] },
  });
  // What a DMARC aggregate report saw from the newsletter service, and from someone else.
  await store.feedback.insertDmarcRecords(
    [
      { ip: '203.0.113.9', count: 120 },
      { ip: '203.0.113.10', count: 30 },
      { ip: '192.0.2.200', count: 5 },
    ].map((r, i) => ({
      id: `rpt_deleg_${i}`,
      documentId: 'fb_deleg',
      tenantId,
      domainId,
      policyDomain: 'example.com',
      policy: { p: 'reject' },
      orgName: 'receiver.example.net',
      reportId: 'r-deleg',
      rowIndex: i,
      dateBegin: clock.now() - 86_400_000,
      dateEnd: clock.now() - 1000,
      sourceIp: r.ip,
      count: r.count,
      disposition: 'none',
      dkim: 'pass',
      spf: 'pass',
      headerFrom: 'example.com',
      authResults: { dkim: [], spf: [] },
      authorized: true,
      authorizedReason: 'spf-aligned-pass',
    })),
  );
});
after(async () => {
  for (const fn of teardown.reverse()) await fn();
});

const onApex = (a: AuditResult) => a.findings.filter((f) => f.id === 'third-party.on-apex');

test('an entry whose SPF include is on the apex gets a subdomain proposal with its exact records', async () => {
  const audit = await monitor.audit(tenantId, 'example.com');
  const found = onApex(audit);
  // Google Workspace is a mailbox host (people's own mail) and Mailgun is on mg.example.com already.
  assert.equal(found.length, 1, found.map((f) => f.found).join('\n'));
  const f = found[0]!;
  const entry = (await register.list(tenantId)).find((e) => e.name === 'Newsletter service')!;
  assert.equal(f.severity, 'info');
  assert.equal(f.subject, 'newsletter-service.example.com');
  assert.match(f.found, new RegExp(`Register entry "Newsletter service" \\(${entry.id}\\)`));
  assert.match(f.found, /SPF lookups of example\.com: 4 now, 3 once moved \(limit 10\)/);
  assert.match(f.found, /203\.0\.113\.9, 203\.0\.113\.10\./);
  assert.deepEqual(f.fix!.split('\n'), [
    'newsletter-service.example.com. IN TXT "v=spf1 include:sendgrid.net -all"',
    's1._domainkey.newsletter-service.example.com. IN CNAME s1.domainkey.u42.wl.sendgrid.net.  (as s1._domainkey.example.com today; the provider may issue another target for newsletter-service.example.com)',
    'DMARC: _dmarc.example.com sp=reject covers newsletter-service.example.com; publish _dmarc.newsletter-service.example.com only for its own policy or reports',
    'Set the service to send From: …@newsletter-service.example.com and sign with d=newsletter-service.example.com.',
    'Then, once it sends from newsletter-service.example.com: example.com. IN TXT "v=spf1 mx include:_spf.google.com -all"',
  ]);
  assert.equal(f.evidence.third_party_id, entry.id);
  assert.equal(f.evidence.third_party, 'Newsletter service');
  assert.deepEqual(f.evidence.apex_spf, {
    before: 'v=spf1 mx include:_spf.google.com include:sendgrid.net -all',
    after: 'v=spf1 mx include:_spf.google.com -all',
    lookups_before: 4,
    lookups_after: 3,
  });
  assert.deepEqual(f.evidence.dmarc_seen_sources, [
    { ip: '203.0.113.9', count: 120 },
    { ip: '203.0.113.10', count: 30 },
  ]);
  assert.ok(f.controls.includes('iso27001-a5.19'), 'evidence for supplier relationships');
});

test('an entry already on its own subdomain gets none, and a subdomain is never "the apex"', async () => {
  const apex = await monitor.audit(tenantId, 'example.com');
  assert.equal(
    onApex(apex).some((f) => f.evidence.third_party === 'Mailgun'),
    false,
  );
  const sub = await monitor.audit(tenantId, 'mg.example.com');
  assert.deepEqual(onApex(sub), []);
});

test('a configured subdomain for a service signing as the apex gets a DMARC record when sp= does not cover it', async () => {
  const audit = await monitor.audit(tenantId, 'example.org');
  const found = onApex(audit);
  assert.deepEqual(
    found.map((f) => f.subject),
    ['invoices.example.org'],
  );
  const lines = found[0]!.fix!.split('\n');
  assert.equal(lines[0], 'invoices.example.org. IN TXT "v=spf1 ip4:192.0.2.64/26 -all"');
  assert.equal(
    lines[1],
    '_dmarc.invoices.example.org. IN TXT "v=DMARC1; p=quarantine; rua=mailto:dmarc@example.org"  (p=reject once its reports are clean)',
  );
  assert.match(found[0]!.found, /it signs with d=example\.org/);
  assert.equal(
    lines.some((l) => l.startsWith('Then,')),
    false,
    'no include to remove from the apex SPF',
  );
});

test('a tenant without register entries gets the plain audit: the same queries, no store read for sources', async () => {
  const before = seenCalls;
  const withTenant = await monitor.audit(emptyTenantId, 'example.com', []);
  const plain = await auditDomain('example.com', auditDeps(), { selectors: [] });
  assert.deepEqual(onApex(withTenant), []);
  assert.deepEqual(
    withTenant.queries.map((q) => `${q.name} ${q.type}`),
    plain.queries.map((q) => `${q.name} ${q.type}`),
  );
  assert.equal(seenCalls, before);
});

test('an entry with a name that is not a DNS label as its subdomain is refused with the field path', async () => {
  await assert.rejects(
    register.create(tenantId, { name: 'Bad', delegation_subdomain: 'news_letter' }),
    (e: Error & { details?: unknown }) => {
      assert.match(JSON.stringify(e.details), /\/delegation_subdomain/);
      return true;
    },
  );
});
