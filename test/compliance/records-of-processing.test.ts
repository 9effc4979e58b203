import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCli } from '../../src/cli/index.js';
import { tlsaRecordFor } from '../../src/transport-policy/index.js';
import { fakeClock } from '../support/clock.js';
import { startTlsLab } from '../transport-security/tls-lab.js';

/**
 * Records of processing (docs/compliance.md), issue #21: messages of several classifications go
 * through real sinks on loopback, one per kind of transport (no STARTTLS, a self-signed certificate,
 * a certificate of the lab's CA, a DANE-EE record behind the AD bit), and the records count them per
 * classification, stream and TLS evidence, for the period asked and for their tenant alone; the CLI
 * answers the same document, and the evidence report carries it with the SOC 2 controls and the
 * self-assessment. One lab for the file, a fake clock that moves a day between the two periods.
 */
const H = 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString();
type Flow = {
  stream: string;
  classification: string | null;
  accepted: number;
  delivered_messages: number;
  delivered_recipients: number;
  tls: Record<string, number>;
};

test('records of processing count messages per classification, stream and TLS evidence, per tenant and period', {
  timeout: 90_000,
}, async (t) => {
  const clock = fakeClock(Date.now());
  const lab = await startTlsLab(
    t,
    {
      'plain.test': { sink: 'none' },
      'self.test': { sink: 'self-signed' },
      'ca.test': { sink: 'ca' },
      'dane.test': { sink: 'self-signed', tlsa: ({ leaf }) => [tlsaRecordFor(leaf, { usage: 3, selector: 1, matchingType: 1 })] },
    },
    { platform: { clock } },
  );
  const p = lab.p;
  const T0 = clock.now();

  // A second tenant on the same platform, with its own key, domain and register entry.
  const other = await p.platform.tenants.createTenant({ name: 'Other tenant' });
  const otherKey = (await p.platform.tenants.createKey({ tenantId: other.id, scopes: ['send', 'read', 'admin'] })).secret;
  await p.platform.domains.addDomain(other.id, 'other.example');
  const asOther = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(p.url + path, {
      method,
      headers: { authorization: `Bearer ${otherKey}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, body: (await res.json()) as any };
  };

  /** Sends and waits until each recipient is delivered; answers the message id. */
  const send = async (body: Record<string, unknown>, as: 'mine' | 'other' = 'mine') => {
    const req = { from: as === 'mine' ? 'billing@example.com' : 'hr@other.example', subject: 'records', text: 'hello', ...body };
    const res = as === 'mine' ? await p.request('POST', '/v1/messages', req) : await asOther('POST', '/v1/messages', req);
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const id = res.body.id as string;
    const expected = ([] as string[]).concat(body.to as string | string[]).length;
    for (let i = 0; i < 400; i++) {
      const events = await p.platform.store.events.page({
        messageId: id,
        types: ['recipient.delivered', 'recipient.deferred', 'recipient.bounced'],
        limit: 10,
      });
      assert.ok(!events.some((e) => e.type !== 'recipient.delivered'), `${id}: ${JSON.stringify(events.map((e) => e.data))}`);
      if (events.length === expected) return id;
      await new Promise((r) => setTimeout(r, 25));
    }
    assert.fail(`${id} was not delivered within 10 s`);
  };

  // A tenant-defined classification raised by a tag; the built-in ones given on the send API.
  const rules = await p.request('PUT', '/v1/classification/rules', { classifications: ['hr'], tags: { payroll: 'hr' } });
  assert.equal(rules.status, 200, JSON.stringify(rules.body));
  await p.platform.compliance.register.create(p.tenantId, {
    name: 'Newsletter service',
    purpose: 'marketing mail',
    data_categories: ['pii'],
    certifications: [{ name: 'SOC 2 Type II', issuer: 'Example Audit LLP', expires_at: iso(T0 + 400 * 24 * H) }],
  });
  await p.platform.compliance.register.create(other.id, { name: 'Other payroll bureau', data_categories: ['hr'] });

  await send({ to: 'ada@ca.test', classification: 'pci' }); // verified TLS
  await send({ to: 'bob@dane.test', classification: 'pci' }); // DANE
  await send({ to: 'cy@self.test', classification: 'pii' }); // opportunistic TLS
  await send({ to: 'dee@plain.test', classification: 'public', stream: 'marketing' }); // plaintext
  await send({ to: ['eve@ca.test', 'fay@plain.test'], tags: ['payroll'] }); // hr: one verified, one plaintext
  await send({ to: 'gus@plain.test' }); // unclassified, plaintext
  await send({ to: ['zed@ca.test', 'yan@plain.test'], classification: 'pci' }, 'other');

  const period0 = `from=${iso(T0)}&to=${iso(T0 + H)}`;
  const mine = await p.request('GET', `/v1/compliance/records-of-processing?${period0}`);
  assert.equal(mine.status, 200, JSON.stringify(mine.body));
  const r = mine.body;

  await t.test('counts per classification and stream, by TLS evidence', () => {
    const row = (stream: string, classification: string | null) =>
      (r.flows as Flow[]).find((f) => f.stream === stream && f.classification === classification);
    const tls = (dane: number, verified: number, opportunistic: number, plaintext: number) => ({
      dane,
      verified,
      opportunistic,
      plaintext,
    });
    assert.deepEqual(
      (r.flows as Flow[]).map((f) => [f.stream, f.classification]),
      [
        ['marketing', 'public'],
        ['transactional', 'hr'],
        ['transactional', 'pci'],
        ['transactional', 'pii'],
        ['transactional', null],
      ],
    );
    assert.deepEqual(row('transactional', 'pci'), {
      stream: 'transactional',
      classification: 'pci',
      accepted: 2,
      sandbox: 0,
      delivered_messages: 2,
      delivered_recipients: 2,
      tls: tls(1, 1, 0, 0),
    });
    assert.deepEqual(row('transactional', 'pii')!.tls, tls(0, 0, 1, 0));
    assert.deepEqual(row('marketing', 'public')!.tls, tls(0, 0, 0, 1));
    const hr = row('transactional', 'hr')!;
    assert.deepEqual([hr.accepted, hr.delivered_messages, hr.delivered_recipients, hr.tls], [1, 1, 2, tls(0, 1, 0, 1)]);
    assert.deepEqual(row('transactional', null)!.tls, tls(0, 0, 0, 1));
    assert.deepEqual(r.totals, { accepted: 6, sandbox: 0, delivered_messages: 6, delivered_recipients: 7, tls: tls(1, 2, 1, 3) });
    assert.deepEqual(
      r.classifications.map((c: { classification: string | null; streams: string[] }) => [c.classification, c.streams]),
      [
        ['pci', ['transactional']],
        ['hr', ['transactional']],
        ['pii', ['transactional']],
        ['public', ['marketing']],
        [null, ['transactional']],
      ],
      'most recipients first, then most accepted, then by name (unclassified last)',
    );
  });

  await t.test('a tenant sees only its own messages and register', async () => {
    assert.deepEqual(
      r.third_parties.map((e: { name: string; data_categories: string[]; certifications: { current: boolean }[] }) => [
        e.name,
        e.data_categories,
        e.certifications.map((c) => c.current),
      ]),
      [['Newsletter service', ['pii'], [true]]],
    );
    const theirs = await asOther('GET', `/v1/compliance/records-of-processing?${period0}`);
    assert.equal(theirs.status, 200, JSON.stringify(theirs.body));
    assert.equal(theirs.body.tenant_id, other.id);
    assert.deepEqual(theirs.body.totals, {
      accepted: 1,
      sandbox: 0,
      delivered_messages: 1,
      delivered_recipients: 2,
      tls: { dane: 0, verified: 1, opportunistic: 0, plaintext: 1 },
    });
    assert.deepEqual(
      theirs.body.third_parties.map((e: { name: string }) => e.name),
      ['Other payroll bureau'],
    );
    assert.ok(
      r.retention.some((c: { data_class: string; max_days: number }) => c.data_class === 'bodies' && c.max_days === 7),
      'the retention of each data class is listed',
    );
  });

  await t.test('the period bounds what is counted', async () => {
    clock.advance(24 * H);
    const T1 = clock.now();
    await send({ to: 'hal@ca.test', classification: 'pci' });
    clock.advance(60_000); // `to` is exclusive: a period ending now must come after the delivery
    const before = await p.request('GET', `/v1/compliance/records-of-processing?${period0}`);
    assert.deepEqual(before.body.totals, r.totals, 'a later delivery is not in an earlier period');
    const day1 = await p.request('GET', `/v1/compliance/records-of-processing?from=${iso(T1)}&to=${iso(T1 + H)}`);
    assert.deepEqual(
      day1.body.flows.map((f: Flow) => [f.classification, f.accepted, f.tls.verified]),
      [['pci', 1, 1]],
    );
    const last30 = await p.request('GET', '/v1/compliance/records-of-processing');
    assert.equal(last30.body.totals.delivered_recipients, 8, 'the default period is the 30 days before now');
    assert.equal((await p.request('GET', '/v1/compliance/records-of-processing?from=2026-13-01')).status, 422);
  });

  await t.test('postwarden compliance records answers the same document', async () => {
    const cli = async (...argv: string[]) => {
      let out = '';
      let err = '';
      const deps = {
        env: { POSTWARDEN_HOSTNAME: 'pw.test' },
        stdout: (s: string) => void (out += s),
        stderr: (s: string) => void (err += s),
      };
      const code = await runCli(['--data-dir', p.config.dataDir, ...argv], deps as never);
      return { code, out, err };
    };
    const args = ['compliance', 'records', '--tenant', p.tenantId, '--from', iso(T0), '--to', iso(T0 + H)];
    const json = await cli('--json', ...args);
    assert.equal(json.code, 0, json.err);
    const { generated_at: _a, ...fromCli } = JSON.parse(json.out);
    const { generated_at: _b, ...fromApi } = r;
    assert.deepEqual(fromCli, fromApi);
    const text = await cli(...args);
    assert.equal(text.code, 0, text.err);
    assert.match(text.out, /pci\s+streams transactional; accepted 2, delivered 2 message\(s\) \/ 2 recipient\(s\): dane 1, verified 1/);
    assert.match(text.out, /Newsletter service \(active\)/);
    const bad = await cli('compliance', 'records', '--tenant', p.tenantId, '--from', 'yesterday');
    assert.equal(bad.code, 64, bad.err);
    const unknown = await cli('compliance', 'records', '--tenant', 'ten_missing');
    assert.equal(unknown.code, 66, unknown.err);
  });

  await t.test('the evidence report carries the SOC 2 controls, the self-assessment and the records', async () => {
    const at = clock.now() - H;
    await p.platform.store.selfAssessments.insert({
      id: 'sa_records_test',
      startedAt: at,
      finishedAt: at + 4000,
      status: 'findings',
      findings: [
        {
          check: 'tls-legacy-version',
          listener: 'submission',
          severity: 'high',
          title: 'submission accepts TLSv1',
          detail: 'RFC 8996 deprecates TLS 1.0 and 1.1; set the minimum to TLS 1.2.',
          observed_at: iso(at),
          evidence: {},
        },
      ],
    });
    const res = await p.request('GET', '/v1/audits/report?domain=example.com&format=json');
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const report = res.body;
    const soc2 = report.controls.filter((c: { framework: string }) => c.framework === 'SOC 2');
    assert.deepEqual(
      soc2.map((c: { reference: string }) => c.reference),
      ['CC6.1', 'CC6.7', 'CC7.2', 'CC7.3'],
    );
    for (const c of soc2) assert.ok(c.evidence.length > 0, `${c.reference} names its evidence`);
    assert.ok(soc2[1].findings.includes('self-assessment.tls-legacy-version'), JSON.stringify(soc2[1]));
    assert.equal(report.selfAssessment.latest.id, 'sa_records_test');
    assert.equal(report.selfAssessment.latest.started_at, iso(at));
    assert.equal(report.selfAssessment.latest.open_findings, 1);
    assert.equal(report.selfAssessment.latest.findings[0].observed_at, iso(at));
    assert.equal(report.recordsOfProcessing.tenant_id, p.tenantId);
    assert.equal(report.recordsOfProcessing.totals.delivered_recipients, 8);
    assert.equal(res.headers.get('x-report-digest'), report.digest.value);

    const md = await fetch(`${p.url}/v1/audits/report?domain=example.com&format=md`, { headers: { authorization: `Bearer ${p.key}` } });
    const text = await md.text();
    for (const heading of ['## Continuous self-assessment', '## Records of processing', '| SOC 2 | CC6.7 |'])
      assert.ok(text.includes(heading), heading);

    // A key that may read domains but not the audit evidence gets the DNS report without those sections.
    const reader = (await p.platform.tenants.createKey({ tenantId: p.tenantId, scopes: ['read'] })).secret;
    const plain = await fetch(`${p.url}/v1/audits/report?domain=example.com&format=json`, {
      headers: { authorization: `Bearer ${reader}` },
    });
    assert.equal(plain.status, 200);
    const doc = (await plain.json()) as Record<string, unknown>;
    assert.equal(doc.selfAssessment, undefined);
    assert.equal(doc.recordsOfProcessing, undefined);
    assert.equal(
      (await fetch(`${p.url}/v1/compliance/records-of-processing`, { headers: { authorization: `Bearer ${reader}` } })).status,
      403,
    );
  });
});
