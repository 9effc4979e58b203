import assert from 'node:assert/strict';
import { test } from 'node:test';
import { analyseSpf } from '../../src/identity/index.js';
import { zoneResolver } from './zone-resolver.js';

const ids = (findings: { id: string }[]) => findings.map((f) => f.id).sort();

test('counts lookups per term recursively through includes and redirect', async () => {
  const resolver = zoneResolver({
    'example.com': {
      TXT: ['v=spf1 ip4:192.0.2.0/24 mx include:_spf.provider.example redirect=_spf.example.com'],
      MX: [{ exchange: 'mx.example.com', priority: 10 }],
    },
    '_spf.provider.example': { TXT: ['v=spf1 include:a.provider.example include:b.provider.example ~all'] },
    'a.provider.example': { TXT: ['v=spf1 ip4:198.51.100.0/24 ~all'] },
    'b.provider.example': { TXT: ['v=spf1 a:smtp.provider.example ~all'] },
    'smtp.provider.example': { A: ['198.51.100.200'] },
    '_spf.example.com': { TXT: ['v=spf1 exists:%{i}.allow.example.com -all'] },
  });
  const r = await analyseSpf('example.com', { resolver });
  assert.deepEqual(
    r.tree.terms.map((t) => [t.term, t.lookups]),
    [
      ['ip4:192.0.2.0/24', 0],
      ['mx', 1],
      ['include:_spf.provider.example', 4],
      ['redirect=_spf.example.com', 2],
    ],
  );
  assert.equal(r.totalLookups, 7);
  assert.equal(r.tree.terms[3]!.child!.terms[0]!.note, 'target depends on the message (macros)');
  assert.deepEqual(ids(r.findings), []);
});

test('flags more than ten lookups, void lookups and an include without a record', async () => {
  const includes = Array.from({ length: 10 }, (_, i) => `include:p${i}.example.net`).join(' ');
  const zone: Record<string, { TXT: string[] }> = {
    'example.com': {
      TXT: [`v=spf1 ${includes} a:gone1.example.com a:gone2.example.com a:gone3.example.com include:nothing.example.net -all`],
    },
    'nothing.example.net': { TXT: ['hello'] },
  };
  for (let i = 0; i < 10; i++) zone[`p${i}.example.net`] = { TXT: ['v=spf1 ip4:203.0.113.0/24 -all'] };
  const r = await analyseSpf('example.com', { resolver: zoneResolver(zone) });
  assert.equal(r.totalLookups, 14);
  assert.equal(r.voidLookups, 3);
  assert.deepEqual(ids(r.findings), ['spf.lookup-limit', 'spf.multi-string', 'spf.target-without-record', 'spf.void-limit']);
  const limit = r.findings.find((f) => f.id === 'spf.lookup-limit')!;
  assert.equal(limit.severity, 'error');
  assert.equal(limit.evidence.lookups, 14);
});

test('flags +all, ptr and duplicate mechanisms with the evidence', async () => {
  const resolver = zoneResolver({ 'example.com': { TXT: ['v=spf1 ptr ip4:192.0.2.1 IP4:192.0.2.1 +all'] } });
  const r = await analyseSpf('example.com', { resolver });
  assert.deepEqual(ids(r.findings), ['spf.duplicate-mechanism', 'spf.plus-all', 'spf.ptr']);
  assert.deepEqual(r.findings.find((f) => f.id === 'spf.duplicate-mechanism')!.evidence.duplicates, ['ip4:192.0.2.1']);
});

test('flags ?all, a missing all, and a redirect that all makes useless', async () => {
  const neutral = await analyseSpf('example.com', { resolver: zoneResolver({ 'example.com': { TXT: ['v=spf1 ip4:192.0.2.1 ?all'] } }) });
  assert.deepEqual(ids(neutral.findings), ['spf.neutral-all']);
  const missing = await analyseSpf('example.com', { resolver: zoneResolver({ 'example.com': { TXT: ['v=spf1 ip4:192.0.2.1'] } }) });
  assert.deepEqual(ids(missing.findings), ['spf.missing-all']);
  const both = await analyseSpf('example.com', {
    resolver: zoneResolver({
      'example.com': { TXT: ['v=spf1 -all redirect=other.example.com'] },
      'other.example.com': { TXT: ['v=spf1 -all'] },
    }),
  });
  assert.deepEqual(ids(both.findings), ['spf.redirect-ignored']);
  assert.equal(both.totalLookups, 0);
});

test('reports size, strings and the UDP 512 risk of the whole TXT answer', async () => {
  const ips = Array.from({ length: 20 }, (_, i) => `ip4:198.51.100.${i + 1}`).join(' ');
  const record = `v=spf1 ${ips} -all`;
  const resolver = zoneResolver({ 'example.com': { TXT: [record, `google-site-verification=${'x'.repeat(120)}`] } });
  const r = await analyseSpf('example.com', { resolver });
  assert.equal(r.size.recordBytes, Buffer.byteLength(record));
  assert.equal(r.size.strings, 2);
  assert.ok(r.size.responseBytes > 512, String(r.size.responseBytes));
  assert.deepEqual(ids(r.findings), ['spf.multi-string', 'spf.udp-512']);
});

test('checks whether each platform IP passes', async () => {
  const resolver = zoneResolver({
    'example.com': { TXT: ['v=spf1 include:spf.platform.example -all'] },
    'spf.platform.example': { TXT: ['v=spf1 ip4:192.0.2.0/28 -all'] },
  });
  const r = await analyseSpf('example.com', { resolver, platformIps: ['192.0.2.5', '192.0.2.99'] });
  assert.deepEqual(r.platform, [
    { ip: '192.0.2.5', result: 'pass', mechanism: 'include:spf.platform.example' },
    { ip: '192.0.2.99', result: 'fail', mechanism: '-all' },
  ]);
  assert.deepEqual(ids(r.findings), ['spf.platform-ip-not-authorized']);
  assert.equal(r.findings[0]!.evidence.ip, '192.0.2.99');
});

test('reports no record, several records and a syntax error as findings', async () => {
  const none = await analyseSpf('example.com', { resolver: zoneResolver({ 'example.com': { A: ['192.0.2.1'] } }) });
  assert.deepEqual(ids(none.findings), ['spf.missing']);
  const many = await analyseSpf('example.com', { resolver: zoneResolver({ 'example.com': { TXT: ['v=spf1 -all', 'v=spf1 ~all'] } }) });
  assert.deepEqual(ids(many.findings), ['spf.multiple-records']);
  const bad = await analyseSpf('example.com', { resolver: zoneResolver({ 'example.com': { TXT: ['v=spf1 ip4:192.0.2.300 -all'] } }) });
  assert.deepEqual(ids(bad.findings), ['spf.syntax']);
  assert.equal(bad.findings[0]!.evidence.position, 7);
});

test('reports an include loop', async () => {
  const resolver = zoneResolver({
    'example.com': { TXT: ['v=spf1 include:a.example.com -all'] },
    'a.example.com': { TXT: ['v=spf1 include:example.com'] },
  });
  const r = await analyseSpf('example.com', { resolver });
  assert.ok(ids(r.findings).includes('spf.loop'));
});
