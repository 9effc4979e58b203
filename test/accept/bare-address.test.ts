import assert from 'node:assert/strict';
import { test } from 'node:test';
import addressparser from 'nodemailer/lib/addressparser';
import { BARE_ADDRESS, parseSendRequest } from '../../src/accept/send-request.js';

/**
 * Accept skips addressparser for a bare `local@domain` (BARE_ADDRESS). That holds only while
 * addressparser would have returned the string itself as the one address: checked here on strings
 * built from every character class it treats specially, so an upgrade that parses them differently
 * fails this test rather than changing what we send to.
 */
test('a bare address is what addressparser would have made of it', () => {
  const pieces = [
    'a',
    'Z',
    '0',
    '.',
    '-',
    '_',
    '+',
    "'",
    '!',
    '#',
    '$',
    '%',
    '&',
    '*',
    '/',
    '=',
    '?',
    '^',
    '`',
    '{',
    '|',
    '}',
    '~',
    'é',
    '=?utf-8?q?a?=',
    // Special to addressparser: these must keep a string off the shortcut.
    ' ',
    '\t',
    '\u00a0',
    '\u2028',
    '\ufeff',
    '\u0000',
    '\u007f',
    '"',
    '(',
    ')',
    '<',
    '>',
    ',',
    ':',
    ';',
    '[',
    ']',
    '\\',
    '@',
  ];
  const domains = ['example.com', 'EXAMPLE.org', 'b', 'a.b.', 'xn--bcher-kva.example', 'bücher.de', '[127.0.0.1]', 'a b.com'];
  let seed = 11;
  const next = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  let bare = 0;
  let other = 0;
  for (let i = 0; i < 20_000; i++) {
    const local = Array.from({ length: 1 + next(8) }, () => pieces[next(pieces.length)]).join('');
    const value = `${local}@${domains[next(domains.length)]}`;
    if (!BARE_ADDRESS.test(value)) {
      other++;
      continue;
    }
    bare++;
    assert.deepEqual(addressparser(value, { flatten: true }), [{ name: '', address: value }], JSON.stringify(value));
  }
  assert.ok(bare > 2_000 && other > 2_000, `both kinds tried (${bare} bare, ${other} not)`);
});

test('bare and named recipients parse to the same mailboxes as before the shortcut', () => {
  const r = parseSendRequest({
    from: 'App@Example.COM',
    to: ['a@example.net', 'Ann <b@Example.net>', 'c@example.net, "Last, First" <d@example.net>'],
    cc: 'e@example.net',
    subject: 's',
    text: 't',
  });
  assert.ok(r.ok, JSON.stringify(r));
  assert.equal(r.request.from.address, 'App@example.com');
  assert.deepEqual(
    [...r.request.to, ...r.request.cc].map((m) => [m.address, m.name ?? null]),
    [
      ['a@example.net', null],
      ['b@example.net', 'Ann'],
      ['c@example.net', null],
      ['d@example.net', 'Last, First'],
      ['e@example.net', null],
    ],
  );
  const bad = parseSendRequest({ from: 'app@example.com', to: 'a@exa_mple.net', subject: 's', text: 't' });
  assert.ok(!bad.ok);
  assert.deepEqual(bad.errors, [{ path: '/to', message: 'has an invalid domain ("a@exa_mple.net")' }]);
});
