import assert from 'node:assert/strict';
import { test } from 'node:test';
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
