import assert from 'node:assert/strict';
import { test } from 'node:test';
import { domainToASCII } from 'node:url';
import { normaliseDomain, parseAddress, parseMailbox } from '../../src/core/index.js';

test('domains are lower-cased A-labels without a trailing dot', () => {
  assert.equal(normaliseDomain('Example.COM.'), 'example.com');
  assert.equal(normaliseDomain('bücher.example'), 'xn--bcher-kva.example');
});

test('strings that are not host names are refused, including URL delimiters', () => {
  for (const bad of [
    'example.com/evil?',
    'a_b.example',
    'localhost',
    'exa mple.com',
    '-x.example',
    'x..example',
    'user@example.com',
    '1.2.3.4',
  ]) {
    assert.equal(normaliseDomain(bad), null, bad);
  }
});

test('plain lower-case hosts skip domainToASCII and come out as it would make them', () => {
  // normaliseDomain as it was before the shortcut: every host through domainToASCII.
  const throughUrl = (input: string): string | null => {
    const raw = input.trim().replace(/\.$/, '');
    if (!raw || raw.length > 253 || /[\x00-\x2c/:;<=>?@[\\\]^_`{|}~\s]/.test(raw)) return null;
    const ascii = domainToASCII(raw.toLowerCase());
    if (!ascii || ascii.length > 253) return null;
    const labels = ascii.split('.');
    if (labels.length < 2 || !labels.every((l) => /^(?!-)[a-z0-9-]{1,63}(?<!-)$/.test(l))) return null;
    return /^[0-9]+$/.test(labels[labels.length - 1]!) ? null : ascii;
  };
  // Hosts built from the pieces where domainToASCII does something: A-labels valid and not,
  // number-like labels (IPv4 in decimal, octal, hex), hyphens at the edges, empty labels, upper case.
  const pieces = [
    'a',
    'mail',
    'example',
    'com',
    'x1',
    '0',
    '12',
    '0x1f',
    '0x',
    '017',
    'xn--bcher-kva',
    'xn--zz',
    'xn--',
    'ab--cd',
    '-a',
    'b-',
    'Q',
    'é',
  ];
  let seed = 7;
  const next = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const seen = new Set<string>();
  for (let i = 0; i < 5000; i++) {
    const labels = Array.from({ length: 1 + next(4) }, () => pieces[next(pieces.length)]);
    const host = labels.join(next(10) === 0 ? '..' : '.');
    seen.add(String(throughUrl(host) !== null));
    assert.equal(normaliseDomain(host), throughUrl(host), host);
  }
  assert.deepEqual([...seen].sort(), ['false', 'true'], 'both accepted and refused hosts were tried');
  for (const host of ['a.0x1f', '123.456', 'a.017', 'mail.xn--zz', 'xn--bcher-kva.example', 'a.b-c.d']) {
    assert.equal(normaliseDomain(host), throughUrl(host), host);
  }
});

test('addresses keep the local part and normalise the domain', () => {
  const r = parseAddress('Ann.Lee@Example.NET');
  assert.ok(r.ok);
  assert.equal(r.mailbox.address, 'Ann.Lee@example.net');
  const u = parseAddress('josé@example.net');
  assert.ok(u.ok && u.mailbox.utf8);
});

test('mailboxes with display names are parsed', () => {
  const r = parseMailbox('"Lee, Ann" <ann@example.net>');
  assert.ok(r.ok);
  assert.equal(r.mailbox.name, 'Lee, Ann');
  assert.equal(parseMailbox('no-at-sign').ok, false);
});
