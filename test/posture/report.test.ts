import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import {
  buildReport,
  canonicalJson,
  type ReportProcessingRecords,
  renderReport,
  selfAssessmentSection,
  type TransportTlsStats,
} from '../../src/posture/index.js';
import { brokenZone, goodZone, keys, startLab } from './posture-lab.js';

/** The evidence report: self-contained HTML, a digest that depends only on the inputs. */

/**
 * docs/posture.md's canonical JSON written again apart from the product's `canonicalJson` (keys
 * sorted at every level, no whitespace), so a digest recomputed here checks the promise itself.
 */
function independentCanonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.keys(v)
            .sort()
            .map((k) => [k, (v as Record<string, unknown>)[k]]),
        )
      : v,
  );
}

test('canonical JSON sorts keys at every level and drops whitespace: a hand-written document and digest', () => {
  const doc = { z: 'last', b: { d: true, c: null }, a: [3, { y: 'é', x: 1 }], skipped: undefined };
  const expected = '{"a":[3,{"x":1,"y":"é"}],"b":{"c":null,"d":true},"z":"last"}';
  assert.equal(canonicalJson(doc), expected);
  // printf '%s' '<expected>' | sha256sum
  assert.equal(
    createHash('sha256').update(canonicalJson(doc)).digest('hex'),
    '43ed4823238b9e9869d2e3d3102a75265d84913dde1c3f4031f9e955b59f7289',
  );
});
const tls: TransportTlsStats = {
  period: '2026-11-01/2026-11-30',
  deliveries: 12840,
  tlsShare: 0.991,
  verifiedShare: 0.87,
  mtaStsShare: 0.41,
  daneShare: 0.12,
};

test('the HTML report has no external assets, escapes record text and carries the digest', async (t) => {
  const zone = { ...goodZone(), ...brokenZone() };
  zone['_smtp._tls.broken.example'] = { TXT: ['v=TLSRPTv1; rua=<script src="https://evil.example/x.js"></script>'] };
  const lab = await startLab(t, { zone });
  const audit = await lab.audit('broken.example', { selectors: ['weak'] });
  const report = buildReport(audit, { generatedAt: audit.auditedAt, transportTls: tls });
  const html = renderReport(report, 'html');
  assert.match(html, /^<!DOCTYPE html>/);
  assert.equal(/<(script|link|img|iframe)\b/i.test(html), false, 'no script, stylesheet or image elements');
  assert.equal(/\b(src|href)\s*=\s*["']?\s*(https?:)?\/\//i.test(html), false, 'no http(s) src or href');
  assert.equal(/url\(|@import/i.test(html), false, 'the inline CSS loads nothing');
  assert.ok(html.includes('&lt;script src=&quot;https://evil.example/x.js&quot;&gt;'), 'record text is escaped');
  assert.ok(html.includes(`<code id="digest">${report.digest}</code>`));
  assert.match(report.digest, /^[0-9a-f]{64}$/);
  assert.ok(html.includes('Transport TLS statistics') && html.includes('99.1%'));
  for (const q of audit.queries) assert.ok(html.includes(q.name), `query ${q.name} is in the report`);
  assert.ok(html.includes('PCI DSS 4.0') && html.includes('§164.312(e)(1)'), 'control mapping is rendered');
});

test('the same inputs give the same digest in every format, and the JSON lets anyone recompute it', async (t) => {
  const lab = await startLab(t);
  const first = await lab.audit('good.example', { selectors: ['sel1', 'sel2'] });
  const second = await lab.audit('good.example', { selectors: ['sel2', 'sel1'] });
  const a = buildReport(first, { generatedAt: first.auditedAt });
  const b = buildReport(second, { generatedAt: second.auditedAt });
  assert.equal(a.digest, b.digest, 'wall-clock duration and selector order do not change the digest');
  const md = renderReport(a, 'md');
  assert.ok(md.includes(a.digest));
  const json = JSON.parse(renderReport(a, 'json')) as Record<string, unknown>;
  const { digest, ...content } = json;
  assert.equal((digest as { value: string }).value, a.digest);
  assert.equal(createHash('sha256').update(independentCanonicalJson(content)).digest('hex'), a.digest);

  lab.clock.advance(1000);
  const later = await lab.audit('good.example', { selectors: ['sel1', 'sel2'] });
  assert.notEqual(buildReport(later, { generatedAt: later.auditedAt }).digest, a.digest, 'another time is another report');
  const zone = goodZone();
  zone['_dmarc.good.example'] = { TXT: ['v=DMARC1; p=none'] };
  lab.dns.setZone(zone);
  lab.clock.set(Date.parse(first.auditedAt));
  const changed = await lab.audit('good.example', { selectors: ['sel1', 'sel2'] });
  assert.notEqual(buildReport(changed, { generatedAt: changed.auditedAt }).digest, a.digest, 'other answers are another report');
});

test('a full audit costs under 2 s against a resolver that answers in 50 ms', async (t) => {
  const lab = await startLab(t, { dnsOptions: { delayMs: 50, authenticated: Object.keys(goodZone()) } });
  const started = performance.now();
  const audit = await lab.audit('good.example', { selectors: ['sel1', 'sel2'], approvedMx: ['*.good.example'] });
  const elapsed = performance.now() - started;
  assert.deepEqual(audit.findings, [], 'slow answers are still answers');
  assert.ok(audit.queries.length >= 15);
  assert.ok(elapsed < 2000, `audit took ${Math.round(elapsed)} ms`);
  t.diagnostic(`${audit.queries.length} queries at 50 ms each in ${Math.round(elapsed)} ms`);
});

test('several DKIM records at a selector give the same findings and digest whatever the answer order', async (t) => {
  const testing = `v=DKIM1; k=rsa; t=y; p=${keys.rsa2048}`;
  const weak = `v=DKIM1; k=rsa; p=${keys.rsa1024}`;
  const zone = goodZone();
  zone['sel1._domainkey.good.example'] = { TXT: [testing, weak] };
  const lab = await startLab(t, { zone });
  const first = await lab.audit('good.example', { selectors: ['sel1', 'sel2'] });
  zone['sel1._domainkey.good.example'] = { TXT: [weak, testing] };
  lab.dns.setZone(zone);
  lab.clock.set(Date.parse(first.auditedAt));
  const second = await lab.audit('good.example', { selectors: ['sel1', 'sel2'] });
  const dkim = (a: typeof first) =>
    a.findings
      .filter((f) => f.id.startsWith('dkim.'))
      .map((f) => f.id)
      .sort();
  assert.deepEqual(dkim(first), ['dkim.multiple-records', 'dkim.weak-rsa'], 'the record sorted first is the one checked');
  assert.deepEqual(dkim(second), dkim(first));
  assert.deepEqual(second.findings, first.findings);
  assert.deepEqual(second.facts.dkim, first.facts.dkim);
  assert.equal(buildReport(second, { generatedAt: second.auditedAt }).digest, buildReport(first, { generatedAt: first.auditedAt }).digest);
});

test('the report maps SOC 2 CC6.1, CC6.7, CC7.2 and CC7.3 with their evidence, and carries the self-assessment and the records', async (t) => {
  const lab = await startLab(t);
  const audit = await lab.audit('broken.example', { selectors: ['weak'] });
  const runs = [
    {
      id: 'sa_2',
      started_at: '2026-11-23T08:00:00.000Z',
      finished_at: '2026-11-23T08:00:04.000Z',
      status: 'findings',
      findings: [
        {
          check: 'tls-legacy-version',
          listener: 'submission',
          severity: 'high',
          title: 'submission accepts <TLSv1>',
          detail: 'RFC 8996',
          observed_at: '2026-11-23T08:00:00.000Z',
        },
        {
          check: 'dependency-audit-unavailable',
          listener: 'dependencies',
          severity: 'info',
          title: 'npm audit data is not available',
          detail: 'offline',
          observed_at: '2026-11-23T08:00:00.000Z',
        },
      ],
    },
    { id: 'sa_1', started_at: '2026-11-22T08:00:00.000Z', finished_at: '2026-11-22T08:00:03.000Z', status: 'pass', findings: [] },
  ];
  const tls = { dane: 1, verified: 2, opportunistic: 0, plaintext: 1 };
  const counts = { accepted: 3, sandbox: 0, delivered_messages: 3, delivered_recipients: 4, tls };
  const records: ReportProcessingRecords = {
    tenant_id: 'ten_1',
    period: { from: '2026-10-24T09:00:00.000Z', to: '2026-11-23T09:00:00.000Z' },
    flows: [{ stream: 'transactional', classification: 'pci', ...counts }],
    classifications: [{ classification: 'pci', streams: ['transactional'], ...counts }],
    totals: counts,
    third_parties: [
      {
        name: 'Mailer & Co',
        status: 'active',
        purpose: null,
        data_categories: ['pii'],
        dpa: null,
        certifications: [{ name: 'ISO 27001', issuer: 'Cert Body', expires_at: '2026-01-01T00:00:00.000Z', current: false }],
        review_due_at: null,
        review_overdue: false,
      },
    ],
    retention: [{ data_class: 'bodies', max_days: 7, min_days: null, custom: false }],
  };
  const report = buildReport(audit, {
    generatedAt: audit.auditedAt,
    selfAssessment: selfAssessmentSection(runs),
    recordsOfProcessing: records,
  });
  const without = buildReport(audit, { generatedAt: audit.auditedAt });
  assert.notEqual(report.digest, without.digest, 'the sections are part of the digested content');

  const json = JSON.parse(renderReport(report, 'json'));
  const soc2 = json.controls.filter((c: { framework: string }) => c.framework === 'SOC 2');
  assert.deepEqual(
    soc2.map((c: { id: string }) => c.id),
    ['soc2-cc6.1', 'soc2-cc6.7', 'soc2-cc7.2', 'soc2-cc7.3'],
  );
  const evidence = Object.fromEntries(soc2.map((c: { reference: string; evidence: string[] }) => [c.reference, c.evidence.join(' ')]));
  assert.match(evidence['CC6.1']!, /permission/);
  assert.match(evidence['CC6.1']!, /audit log/);
  assert.match(evidence['CC6.7']!, /TLS/);
  assert.match(evidence['CC6.7']!, /at rest/);
  assert.match(evidence['CC7.2']!, /Anomaly alerts/);
  assert.match(evidence['CC7.3']!, /Incident/);
  const cc67 = soc2.find((c: { reference: string }) => c.reference === 'CC6.7');
  assert.ok(cc67.findings.includes('self-assessment.tls-legacy-version'), 'a weak listener evidences CC6.7');
  assert.ok(
    cc67.findings.some((f: string) => f.startsWith('mta-sts.') || f.startsWith('dnssec.')),
    'transport findings of DNS do too',
  );
  assert.deepEqual(
    [json.selfAssessment.latest.id, json.selfAssessment.latest.started_at, json.selfAssessment.latest.open_findings],
    ['sa_2', '2026-11-23T08:00:00.000Z', 1],
  );
  assert.deepEqual(json.selfAssessment.latest.findings[0].controls, ['gdpr-art32', 'pci-4.2.1', 'soc2-cc6.7']);
  assert.deepEqual(json.selfAssessment.history, [{ id: 'sa_1', started_at: '2026-11-22T08:00:00.000Z', status: 'pass', findings: 0 }]);
  assert.deepEqual(json.recordsOfProcessing, records);

  const md = renderReport(report, 'md');
  assert.ok(md.includes('## Continuous self-assessment') && md.includes('Latest run sa_2: started 2026-11-23T08:00:00.000Z'));
  assert.ok(md.includes('## Records of processing') && md.includes('| pci | transactional | 3 | 3 | 4 | 1 | 2 | 0 | 1 |'));
  assert.ok(md.includes('| SOC 2 | CC7.3 |'));
  const html = renderReport(report, 'html');
  assert.ok(html.includes('<h2>Continuous self-assessment</h2>') && html.includes('<h2>Records of processing</h2>'));
  assert.ok(html.includes('submission accepts &lt;TLSv1&gt;') && html.includes('Mailer &amp; Co'), 'section text is escaped');
  assert.ok(html.includes('ISO 27001 (Cert Body) until 2026-01-01, lapsed'));
  assert.equal(/<(script|link|img|iframe)\b/i.test(html), false);

  const none = JSON.parse(
    renderReport(buildReport(audit, { generatedAt: audit.auditedAt, selfAssessment: selfAssessmentSection([]) }), 'json'),
  );
  assert.equal(none.selfAssessment.latest, null);
  assert.ok(
    renderReport(buildReport(audit, { generatedAt: audit.auditedAt, selfAssessment: selfAssessmentSection([]) }), 'md').includes(
      'No self-assessment run is recorded.',
    ),
  );
});
