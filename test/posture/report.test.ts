import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { buildReport, canonicalJson, renderReport, type TransportTlsStats } from '../../src/posture/index.js';
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
