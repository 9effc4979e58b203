import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkFlattenedDrift, checkHost, compareFlattened, proposeFlattening, splitTxtStrings } from '../../src/identity/index.js';
import { type Zone, zoneResolver } from './zone-resolver.js';

function providerZone(extra: Zone = {}): Zone {
  const many = Array.from({ length: 40 }, (_, i) => `ip4:203.0.${i * 2}.0/24`).join(' ');
  return {
    'example.com': {
      TXT: [
        'v=spf1 mx include:_spf.big.example include:_spf.small.example include:mail.zone.example -ip4:192.0.2.66 include:late.example ~all exp=why.example.com',
      ],
      MX: [{ exchange: 'mx.example.com', priority: 10 }],
    },
    'mx.example.com': { A: ['192.0.2.10'], AAAA: ['2001:db8::10'] },
    '_spf.big.example': { TXT: [`v=spf1 ${many} include:_v6.big.example ~all`] },
    '_v6.big.example': { TXT: ['v=spf1 ip6:2001:db8:100::/48 ip6:2001:db8:101::/48 -all'] },
    '_spf.small.example': { TXT: ['v=spf1 ip4:198.51.100.0/25 ip4:198.51.100.128/25 -all'] },
    'mail.zone.example': { TXT: ['v=spf1 exists:%{i}.allow.zone.example -all'] },
    'late.example': { TXT: ['v=spf1 ip4:192.0.2.64/26 -all'] },
    ...extra,
  };
}

/** Serve the proposed records in place of the originals, to check the meaning is unchanged. */
function publish(zone: Zone, records: { name: string; value: string }[]): Zone {
  const out: Zone = { ...zone };
  for (const r of records) out[r.name] = { ...out[r.name], TXT: [r.value] };
  return out;
}

test('flattens provider includes into chained records within the size limits', async () => {
  const zone = providerZone();
  const p = await proposeFlattening('example.com', { resolver: zoneResolver(zone) });
  assert.equal(p.complete, true);
  // Sibling /25s and /48s merge; the 40 separate /24s stay; mx gives a /32 and a /128.
  assert.ok(p.networks.includes('198.51.100.0/24'));
  assert.ok(p.networks.includes('192.0.2.10'));
  assert.ok(p.networks.includes('2001:db8::10'));
  assert.ok(p.networks.includes('2001:db8:100::/47'));
  assert.equal(p.records[0]!.name, 'example.com');
  const parts = p.records.slice(1);
  assert.ok(parts.length >= 2);
  assert.deepEqual(
    parts.map((r) => r.name),
    parts.map((_, i) => `_spf${i + 1}.example.com`),
  );
  for (const r of p.records) {
    assert.ok(Buffer.byteLength(r.value) <= 450, `${r.name} is ${Buffer.byteLength(r.value)} bytes`);
    assert.ok(r.strings.every((s) => Buffer.byteLength(s) <= 255));
    assert.equal(r.strings.join(''), r.value);
  }
  assert.equal(
    p.records[0]!.value,
    `v=spf1 ${parts.map((r) => `include:${r.name}`).join(' ')} include:mail.zone.example -ip4:192.0.2.66 include:late.example ~all exp=why.example.com`,
  );
  assert.deepEqual(
    p.kept.map((k) => k.term),
    ['include:mail.zone.example', '-ip4:192.0.2.66', 'include:late.example'],
  );
  // The kept include costs 2 (itself and its exists), late.example 1.
  assert.equal(p.lookups, parts.length + 3);
});

test('the flattened records give the same results as the original for sample addresses', async () => {
  const zone = providerZone();
  const p = await proposeFlattening('example.com', { resolver: zoneResolver(zone) });
  const flat = zoneResolver(publish(zone, p.records));
  const original = zoneResolver(zone);
  for (const ip of [
    '203.0.7.9',
    '198.51.100.200',
    '192.0.2.10',
    '2001:db8:101::1',
    '192.0.2.66',
    '192.0.2.70',
    '8.8.8.8',
    '2001:db8::10',
  ]) {
    const a = await checkHost({ ip, domain: 'example.com', sender: 'a@example.com' }, { resolver: original });
    const b = await checkHost({ ip, domain: 'example.com', sender: 'a@example.com' }, { resolver: flat });
    assert.equal(b.result, a.result, ip);
  }
});

test('keeps requested includes and follows a root redirect with its all', async () => {
  const zone: Zone = {
    'example.com': { TXT: ['v=spf1 include:keep.example redirect=_spf.example.com'] },
    'keep.example': { TXT: ['v=spf1 ip4:192.0.2.0/24 -all'] },
    '_spf.example.com': { TXT: ['v=spf1 ip4:198.51.100.0/24 -all'] },
  };
  const p = await proposeFlattening('example.com', { resolver: zoneResolver(zone), keep: ['keep.example'] });
  assert.equal(p.records[0]!.value, 'v=spf1 include:keep.example include:_spf1.example.com -all');
  assert.equal(p.records[1]!.value, 'v=spf1 ip4:198.51.100.0/24');
  assert.equal(p.lookups, 2);
});

test('publishes nothing when a source cannot be resolved', async () => {
  const zone = providerZone({ '_spf.small.example': { error: 'timeout' } });
  const p = await proposeFlattening('example.com', { resolver: zoneResolver(zone) });
  assert.equal(p.complete, false);
  assert.deepEqual(p.records, []);
  assert.ok(p.findings.some((f) => f.id === 'spf.flatten-source-unresolved'));
});

test('reports drift of the flattened sources as added and removed networks', async () => {
  const before = await proposeFlattening('example.com', { resolver: zoneResolver(providerZone()) });
  const changed = providerZone({ '_spf.small.example': { TXT: ['v=spf1 ip4:198.51.100.0/25 ip4:100.64.0.0/20 -all'] } });
  const drift = await checkFlattenedDrift('example.com', before.networks, { resolver: zoneResolver(changed) });
  assert.deepEqual(drift.added.sort(), ['100.64.0.0/20', '198.51.100.0/25']);
  assert.deepEqual(drift.removed, ['198.51.100.0/24']);
  assert.equal(drift.changed, true);
  assert.ok(drift.findings.some((f) => f.id === 'spf.flatten-drift'));
  assert.deepEqual(compareFlattened(before, before), { added: [], removed: [], unchanged: before.networks.length, changed: false });
});

test('splits TXT values at term boundaries so no string exceeds 255 bytes', () => {
  const value = `v=spf1 ${Array.from({ length: 30 }, (_, i) => `ip4:198.51.100.${i}`).join(' ')} -all`;
  const strings = splitTxtStrings(value);
  assert.equal(strings.join(''), value);
  assert.ok(strings.every((s) => Buffer.byteLength(s) <= 255));
  assert.ok(strings.slice(1).every((s) => s.startsWith(' ')));
});
