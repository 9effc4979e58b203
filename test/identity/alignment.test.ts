import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type AlignmentInput, computeAlignment, organizationalDomainByPsl } from '../../src/identity/index.js';

const base: AlignmentInput = {
  headerFromDomain: 'example.com',
  envelopeFromDomain: 'bounces.example.com',
  dkimDomains: ['example.com'],
  policy: { aspf: 'r', adkim: 'r' },
  orgDomain: organizationalDomainByPsl,
};

// RFC 7489 §3.1: each row overrides one field of the happy path.
const table: [string, Partial<AlignmentInput>, { spf: boolean; dkim: boolean; pass: boolean; alignedDomain?: string }][] = [
  ['relaxed SPF aligns a bounce subdomain', {}, { spf: true, dkim: true, pass: true, alignedDomain: 'example.com' }],
  [
    'strict SPF refuses a bounce subdomain',
    { policy: { aspf: 's', adkim: 'r' } },
    { spf: false, dkim: true, pass: true, alignedDomain: 'example.com' },
  ],
  ['no policy means relaxed defaults', { policy: null }, { spf: true, dkim: true, pass: true, alignedDomain: 'example.com' }],
  [
    'a different organization never aligns',
    { envelopeFromDomain: 'bounces.esp.example', dkimDomains: ['esp.example'] },
    { spf: false, dkim: false, pass: false },
  ],
  [
    'a shared public suffix is not an organization',
    { headerFromDomain: 'alice.github.io', envelopeFromDomain: 'bob.github.io', dkimDomains: [] },
    { spf: false, dkim: false, pass: false },
  ],
  [
    'the exact DKIM domain is preferred among aligned ones',
    { dkimDomains: ['mail.example.com', 'example.com'] },
    { spf: true, dkim: true, pass: true, alignedDomain: 'example.com' },
  ],
  [
    'a subdomain signature aligns in relaxed mode',
    { dkimDomains: ['esp.example', 'mail.example.com'] },
    { spf: true, dkim: true, pass: true, alignedDomain: 'mail.example.com' },
  ],
  [
    'strict DKIM needs the identical name',
    { dkimDomains: ['mail.example.com'], policy: { aspf: 'r', adkim: 's' } },
    { spf: true, dkim: false, pass: true },
  ],
  [
    'an empty envelope sender cannot align',
    { envelopeFromDomain: '' },
    { spf: false, dkim: true, pass: true, alignedDomain: 'example.com' },
  ],
  [
    'case and a trailing dot do not matter',
    {
      headerFromDomain: 'Example.COM.',
      dkimDomains: ['EXAMPLE.com'],
      policy: { aspf: 's', adkim: 's' },
      envelopeFromDomain: 'example.com',
    },
    { spf: true, dkim: true, pass: true, alignedDomain: 'example.com' },
  ],
];

for (const [name, override, expected] of table) {
  test(name, () => {
    const r = computeAlignment({ ...base, ...override });
    assert.deepEqual(
      { spf: r.spf.aligned, dkim: r.dkim.aligned, pass: r.dmarcWouldPass, alignedDomain: r.dkim.alignedDomain },
      { alignedDomain: undefined, ...expected },
    );
  });
}

test('the result names the domains and modes it compared', () => {
  const r = computeAlignment({ ...base, policy: { aspf: 's', adkim: 'r' } });
  assert.deepEqual(r.spf, { aligned: false, mode: 's', envelopeFrom: 'bounces.example.com', headerFrom: 'example.com' });
  assert.deepEqual(r.dkim.domains, ['example.com']);
});
