import assert from 'node:assert/strict';
import { after, before, type TestContext, test } from 'node:test';
import { newEvent } from '../../src/core/index.js';
import { fakeClock } from '../support/clock.js';
import { startDnsServer } from '../support/dns-server.js';
import { startPlatform, type TestPlatform } from '../support/platform.js';

/**
 * The third-party register against what DMARC aggregate reports show (issue #21, Done 1): a source
 * address no entry lists raises one `compliance.alert` naming the source and the entry it lacks; a
 * listed one does not; a lapsed certification raises one too. One platform for the file; the
 * compliance consumer is ticked by hand (compliance.enabled is off, so nothing runs on its own).
 */
const clock = fakeClock(Date.UTC(2026, 11, 6, 9, 0, 0));
let p: TestPlatform;

// One platform for the file: its teardown hooks run in the file's `after`.
const teardown: (() => unknown)[] = [];
before(async () => {
  const ctx = { after: (fn: () => unknown) => teardown.push(fn) } as unknown as TestContext;
  // Loopback DNS: report ingestion asks SPF whether a source is listed (and the register its includes).
  const dns = await startDnsServer(ctx, { 'example.com': { TXT: ['v=spf1 include:_spf.mailer.example.net -all'] } });
  p = await startPlatform(ctx, { clock, start: false, config: { compliance: { enabled: false }, dns: { servers: [dns.address] } } });
});
after(async () => {
  // Last registered first: the platform stops before its directory goes.
  for (const fn of teardown.reverse()) await fn();
});

// A stored aggregate report, as feedback ingestion leaves it (dmarc_report_records rows and a
// report.received event; ingestion itself is tested in test/api/feedback.test.ts). Parsing threads
// take seconds to start under tsx, so the rows are written directly.
let reportNo = 0;
async function report(rows: { ip: string; count: number; dkim: 'pass' | 'fail'; d?: string }[]): Promise<void> {
  const store = p.platform.store;
  const domain = (await store.domains.list(p.tenantId))[0]!;
  const documentId = `fb_test${++reportNo}`;
  const begin = clock.now() - 86_400_000;
  await store.feedback.insertDmarcRecords(
    rows.map((r, i) => ({
      id: `rpt_test${reportNo}_${i}`,
      documentId,
      tenantId: p.tenantId,
      domainId: domain.id,
      policyDomain: 'example.com',
      policy: { p: 'none' },
      orgName: 'receiver.example.net',
      reportId: `r-${reportNo}`,
      rowIndex: i,
      dateBegin: begin,
      dateEnd: begin + 86_399_000,
      sourceIp: r.ip,
      count: r.count,
      disposition: 'none',
      dkim: r.dkim,
      spf: 'fail',
      headerFrom: 'example.com',
      authResults: { dkim: r.d ? [{ domain: r.d, selector: 's1', result: r.dkim }] : [], spf: [] },
      authorized: r.dkim === 'pass',
      authorizedReason: r.dkim === 'pass' ? 'dkim-aligned-pass' : 'no-aligned-pass',
    })),
  );
  await store.events.append(
    [
      newEvent(
        'report.received',
        { tenantId: p.tenantId },
        {
          kind: 'dmarc-aggregate',
          feedback_id: documentId,
          organization: 'receiver.example.net',
          domains: ['example.com'],
          records: rows.length,
        },
      ),
    ],
    clock.now(),
  );
}

async function alerts(kind: string) {
  const page = await p.platform.spine.page({ tenantId: p.tenantId, types: ['compliance.alert'], limit: 100 });
  return page.data.filter((e) => e.data.kind === kind);
}

test('a DMARC report source no register entry lists raises one alert naming the source and what the register lacks', async (t) => {
  const { register, alerts: consumer } = p.platform.compliance;
  await consumer.tick(); // the consumer starts at the end of the spine: position it before the report
  await register.create(p.tenantId, {
    name: 'Newsletter service',
    owner: 'marketing',
    purpose: 'newsletters',
    identifiers: { ips: ['198.51.100.0/24'] },
  });
  await report([
    { ip: '198.51.100.7', count: 40, dkim: 'pass', d: 'news.example.net' },
    { ip: '203.0.113.9', count: 12, dkim: 'fail' },
  ]);
  await consumer.tick();
  const found = await alerts('dmarc-new-source');
  assert.equal(found.length, 1, JSON.stringify(found));
  const a = found[0]!.data;
  assert.deepEqual(a.subject, {
    source_ip: '203.0.113.9',
    domain: 'example.com',
    dkim_domains: [],
    feedback_id: (a.subject as any).feedback_id,
  });
  assert.match(String(a.message), /203\.0\.113\.9 sent 12 message\(s\) as example\.com/);
  assert.equal(a.lacks, 'a register entry whose ips include 203.0.113.9');

  t.diagnostic('the same source in the next day’s report is not announced again');
  await report([{ ip: '203.0.113.9', count: 3, dkim: 'fail' }]);
  await consumer.tick();
  assert.equal((await alerts('dmarc-new-source')).length, 1);

  t.diagnostic('seeding proposes an entry for the unknown source, after which it is known');
  const added = await register.seed(p.tenantId);
  assert.ok(
    added.some((e) => e.status === 'proposed' && e.identifiers.ips.includes('203.0.113.9')),
    JSON.stringify(added),
  );
  assert.ok(added.some((e) => e.name === 'news.example.net' && e.identifiers.dkim_selectors.includes('s1')));
});

test('an SPF include no entry lists raises spf-include-unregistered', async () => {
  const { register } = p.platform.compliance;
  // Seeding (above) proposed an entry for the include; without it the include is unregistered.
  const seeded = (await register.list(p.tenantId)).find((e) => e.identifiers.spf_includes.includes('_spf.mailer.example.net'));
  assert.ok(seeded);
  await register.remove(p.tenantId, seeded.id);
  await register.check([p.tenantId]);
  const found = await alerts('spf-include-unregistered');
  assert.equal(found.length, 1);
  assert.equal((found[0]!.data.subject as any).include, '_spf.mailer.example.net');
});

test('a certification past its expiry raises certification-lapsed once; a current one does not', async () => {
  const { register } = p.platform.compliance;
  const day = 86_400_000;
  await register.create(p.tenantId, {
    name: 'Payroll processor',
    dpa: { signed_at: '2026-01-10', reference: 'DPA-2026-014' },
    certifications: [
      { name: 'SOC 2 Type II', issuer: 'Example Audit LLP', expires_at: new Date(clock.now() + day).toISOString() },
      { name: 'ISO 27001', issuer: 'Example Cert', expires_at: new Date(clock.now() + 400 * day).toISOString() },
    ],
    identifiers: { ips: ['192.0.2.10'] },
  });
  await register.check([]);
  assert.equal((await alerts('certification-lapsed')).length, 0);
  clock.advance(2 * day);
  await register.check([]);
  await register.check([]);
  const lapsed = await alerts('certification-lapsed');
  assert.equal(lapsed.length, 1);
  assert.equal((lapsed[0]!.data.subject as any).certification, 'SOC 2 Type II');
  assert.match(String(lapsed[0]!.data.message), /Payroll processor: SOC 2 Type II \(issued by Example Audit LLP\) expired/);
});
