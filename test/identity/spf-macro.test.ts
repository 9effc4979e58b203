import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseIp } from '../../src/identity/ip-network.js';
import { expandMacroString, transform, truncateDomain, urlEscape } from '../../src/identity/spf-macro.js';
import { parseDomainSpec, parseExplainString } from '../../src/identity/spf-record.js';

// RFC 7208 §7.4: sender strong-bad@email.example.com, client 192.0.2.3 or 2001:db8::cb01, and the
// PTR name of the client is mx.example.org.
function values(ip: string) {
  return {
    sender: 'strong-bad@email.example.com',
    local: 'strong-bad',
    senderDomain: 'email.example.com',
    domain: 'email.example.com',
    ip: parseIp(ip)!,
    helo: 'mx.example.org',
    receiver: 'unknown',
    timestamp: 0,
    validatedName: async () => 'mx.example.org',
  };
}

const table: [string, string][] = [
  ['%{s}', 'strong-bad@email.example.com'],
  ['%{o}', 'email.example.com'],
  ['%{d}', 'email.example.com'],
  ['%{d4}', 'email.example.com'],
  ['%{d3}', 'email.example.com'],
  ['%{d2}', 'example.com'],
  ['%{d1}', 'com'],
  ['%{dr}', 'com.example.email'],
  ['%{d2r}', 'example.email'],
  ['%{l}', 'strong-bad'],
  ['%{l-}', 'strong.bad'],
  ['%{lr}', 'strong-bad'],
  ['%{lr-}', 'bad.strong'],
  ['%{l1r-}', 'strong'],
  ['%{ir}.%{v}._spf.%{d2}', '3.2.0.192.in-addr._spf.example.com'],
  ['%{lr-}.lp._spf.%{d2}', 'bad.strong.lp._spf.example.com'],
  ['%{lr-}.lp.%{ir}.%{v}._spf.%{d2}', 'bad.strong.lp.3.2.0.192.in-addr._spf.example.com'],
  ['%{ir}.%{v}.%{lr-}.lp._spf.%{d2}', '3.2.0.192.in-addr.bad.strong.lp._spf.example.com'],
  ['%{d2}.trusted-domains.example.net', 'example.com.trusted-domains.example.net'],
];

for (const [macro, expected] of table) {
  test(`${macro} expands to ${expected} (RFC 7208 §7.4)`, async () => {
    const spec = parseDomainSpec(macro);
    assert.notEqual(typeof spec, 'string', String(spec));
    assert.equal(await expandMacroString(spec as Exclude<typeof spec, string>, values('192.0.2.3')), expected);
  });
}

test('the IPv6 example of §7.4 expands to reversed nibbles under ip6', async () => {
  const spec = parseDomainSpec('%{ir}.%{v}._spf.%{d2}');
  assert.equal(
    await expandMacroString(spec as Exclude<typeof spec, string>, values('2001:db8::cb01')),
    '1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com',
  );
});

test('p expands to the validated name and c to the readable address in explanations', async () => {
  const text = parseExplainString('%{p} %{c} %{C}');
  assert.equal(
    await expandMacroString(text as Exclude<typeof text, string>, values('2001:db8::cb01')),
    'mx.example.org 2001:db8::cb01 2001%3Adb8%3A%3Acb01',
  );
});

test('transformers keep all parts when the digit exceeds the count (§7.3)', () => {
  assert.equal(transform('a.b.c', 5, false, '.'), 'a.b.c');
  assert.equal(transform('a-b+c', undefined, true, '-+'), 'c.b.a');
});

test('URL escaping keeps only RFC 3986 unreserved characters', () => {
  assert.equal(urlEscape('a b@c~d_e.f-g/h'), 'a%20b%40c~d_e.f-g%2Fh');
});

test('names over 253 octets lose whole labels from the left (§7.3)', () => {
  const long = `${'x'.repeat(60)}.${'y'.repeat(60)}.${'z'.repeat(60)}.${'w'.repeat(60)}.example.com`;
  const out = truncateDomain(long);
  assert.ok(out.length <= 253);
  assert.equal(out, `${'y'.repeat(60)}.${'z'.repeat(60)}.${'w'.repeat(60)}.example.com`);
});

test('domain-specs must end in a top label or a macro (§7.1)', () => {
  for (const ok of ['example.com', 'example.com.', '%{d}', 'foo.%{d}', '_spf.%{d2}', 'a%%', 'x.1-2', '%{d}.']) {
    assert.notEqual(typeof parseDomainSpec(ok), 'string', ok);
  }
  for (const bad of ['', 'museum', 'museum.', 'foo.123', 'foo.-bar', 'foo.bar-', '%{d}..', '%{t}.example.com', '%{d0}.x.com', '%', '%x']) {
    assert.equal(typeof parseDomainSpec(bad), 'string', bad);
  }
});
