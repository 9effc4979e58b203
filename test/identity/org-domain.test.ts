import assert from 'node:assert/strict';
import { test } from 'node:test';
import { organizationalDomain, organizationalDomainByPsl, treeWalkNames } from '../../src/identity/index.js';
import { zoneResolver } from './zone-resolver.js';

test('the PSL gives the public suffix plus one label, private suffixes included', () => {
  assert.equal(organizationalDomainByPsl('a.b.mail.example.co.uk'), 'example.co.uk');
  assert.equal(organizationalDomainByPsl('Mail.Example.COM.'), 'example.com');
  assert.equal(organizationalDomainByPsl('alice.github.io'), 'alice.github.io');
  assert.equal(organizationalDomainByPsl('co.uk'), 'co.uk');
});

test('the tree walk drops one label at a time for short names', () => {
  assert.deepEqual(treeWalkNames('a.mail.example.com'), ['a.mail.example.com', 'mail.example.com', 'example.com', 'com']);
});

test('the tree walk jumps to the seven rightmost labels and never queries more than eight names', () => {
  const names = treeWalkNames('a.b.c.d.e.f.g.h.i.example.com');
  assert.equal(names.length, 8);
  assert.deepEqual(names.slice(0, 3), ['a.b.c.d.e.f.g.h.i.example.com', 'e.f.g.h.i.example.com', 'f.g.h.i.example.com']);
  assert.equal(names.at(-1), 'com');
  assert.equal(treeWalkNames('a.b.c.d.e.f.g.h').length, 8);
});

test('without psd flags the record with the fewest labels is the organizational domain', async () => {
  const resolver = zoneResolver({
    '_dmarc.mail.example.com': { TXT: ['v=DMARC1; p=none'] },
    '_dmarc.example.com': { TXT: ['v=DMARC1; p=reject'] },
  });
  const r = await organizationalDomain('a.mail.example.com', { method: 'tree-walk', resolver });
  assert.equal(r.orgDomain, 'example.com');
  assert.equal(r.method, 'tree-walk');
  assert.deepEqual(
    r.lookups.map((l) => [l.domain, l.outcome]),
    [
      ['a.mail.example.com', 'nxdomain'],
      ['mail.example.com', 'record'],
      ['example.com', 'record'],
      ['com', 'nxdomain'],
    ],
  );
});

test('psd=n stops the walk at that domain', async () => {
  const resolver = zoneResolver({
    '_dmarc.dept.example.com': { TXT: ['v=DMARC1; p=reject; psd=n'] },
    '_dmarc.example.com': { TXT: ['v=DMARC1; p=none'] },
  });
  const r = await organizationalDomain('mail.dept.example.com', { method: 'tree-walk', resolver });
  assert.equal(r.orgDomain, 'dept.example.com');
  assert.equal(r.lookups.length, 2);
});

test('psd=y makes the name one label below the public suffix domain the organization', async () => {
  const resolver = zoneResolver({ '_dmarc.gov.example': { TXT: ['v=DMARC1; p=reject; psd=y'] } });
  const r = await organizationalDomain('a.b.agency.gov.example', { method: 'tree-walk', resolver });
  assert.equal(r.orgDomain, 'agency.gov.example');
});

test('with no DMARC records anywhere the walk falls back to the PSL and says so', async () => {
  const r = await organizationalDomain('mail.example.co.uk', { method: 'tree-walk', resolver: zoneResolver({}) });
  assert.equal(r.orgDomain, 'example.co.uk');
  assert.equal(r.method, 'psl-fallback');
  assert.equal(r.lookups.length, 4);
});

test('a DNS error interrupts the walk and is reported, with the PSL answer', async () => {
  const resolver = zoneResolver({ '_dmarc.example.com': { error: 'servfail' } });
  const r = await organizationalDomain('mail.example.com', { method: 'tree-walk', resolver });
  assert.equal(r.method, 'psl-fallback');
  assert.match(r.temperror ?? '', /servfail/);
});
