import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { catalogue, findingIds } from '../../src/posture/index.js';
import type { DnsServerOptions, Zone } from '../support/dns-server.js';
import { goodPolicy, goodZone, ids, keys, type Lab, startLab } from './posture-lab.js';

/**
 * One failing zone per check: each case starts from good.example (which has no findings, see
 * audit-fixtures.test.ts), changes one thing, and expects its finding. Together with the broken
 * domain's fixture every finding id in the catalogue is produced by some zone (the last test).
 */
interface Case {
  id: string;
  zone?: (z: Zone) => void;
  dns?: (names: string[]) => DnsServerOptions;
  lab?: (lab: Lab) => void;
  domain?: string;
  selectors?: string[];
  certDays?: number;
}

const txt = (z: Zone, name: string, ...records: string[]) => {
  z[name] = { ...z[name], TXT: records };
};
const policy = (body: string, contentType?: string) => (lab: Lab) =>
  lab.policies.set('good.example', { body, ...(contentType ? { contentType } : {}) });
const digest = (n: number, byte = 7) => Buffer.alloc(n, byte);

const cases: Case[] = [
  { id: 'mx.missing', zone: (z) => delete z['good.example']!.MX },
  { id: 'mx.lookup-failed', dns: (names) => ({ authenticated: names, servfail: ['good.example'] }) },
  { id: 'mx.null', zone: (z) => (z['good.example']!.MX = [{ priority: 0, exchange: '.' }]) },
  { id: 'mx.null-mixed', zone: (z) => z['good.example']!.MX!.push({ priority: 0, exchange: '.' }) },
  { id: 'mx.cname-target', zone: (z) => (z['mx2.good.example'] = { CNAME: 'mx1.good.example' }) },
  { id: 'mx.ip-literal', zone: (z) => z['good.example']!.MX!.push({ priority: 30, exchange: '192.0.2.99' }) },
  { id: 'mx.unresolvable', zone: (z) => delete z['mx2.good.example'] },
  { id: 'mx.unapproved', zone: (z) => z['good.example']!.MX!.push({ priority: 30, exchange: 'mx1.good.example.hoster.example' }) },
  { id: 'spf.missing', zone: (z) => txt(z, 'good.example', 'google-site-verification=abc') },
  { id: 'spf.multiple-records', zone: (z) => txt(z, 'good.example', 'v=spf1 mx -all', 'v=spf1 a -all') },
  { id: 'spf.syntax', zone: (z) => txt(z, 'good.example', 'v=spf1 mx include -all') },
  { id: 'spf.dns-error', dns: (names) => ({ authenticated: names, servfail: ['good.example'] }) },
  { id: 'spf.plus-all', zone: (z) => txt(z, 'good.example', 'v=spf1 mx +all') },
  { id: 'spf.neutral-all', zone: (z) => txt(z, 'good.example', 'v=spf1 mx ?all') },
  { id: 'spf.missing-all', zone: (z) => txt(z, 'good.example', 'v=spf1 mx') },
  { id: 'spf.redirect-ignored', zone: (z) => txt(z, 'good.example', 'v=spf1 mx redirect=_spf.google.com -all') },
  { id: 'spf.terms-after-all', zone: (z) => txt(z, 'good.example', 'v=spf1 -all mx') },
  { id: 'spf.ptr', zone: (z) => txt(z, 'good.example', 'v=spf1 mx ptr -all') },
  { id: 'spf.duplicate-mechanism', zone: (z) => txt(z, 'good.example', 'v=spf1 mx mx -all') },
  {
    id: 'spf.loop',
    zone: (z) => {
      txt(z, 'good.example', 'v=spf1 include:a.good.example -all');
      txt(z, 'a.good.example', 'v=spf1 include:good.example -all');
    },
  },
  { id: 'spf.target-without-record', zone: (z) => txt(z, 'good.example', 'v=spf1 include:nowhere.good.example -all') },
  {
    id: 'spf.lookup-limit',
    zone: (z) => {
      const names = Array.from({ length: 11 }, (_, i) => `s${i}.good.example`);
      for (const n of names) txt(z, n, 'v=spf1 ip4:192.0.2.1 -all');
      txt(z, 'good.example', `v=spf1 ${names.map((n) => `include:${n}`).join(' ')} -all`);
    },
  },
  {
    id: 'spf.lookup-near-limit',
    zone: (z) => {
      const names = Array.from({ length: 8 }, (_, i) => `s${i}.good.example`);
      for (const n of names) txt(z, n, 'v=spf1 ip4:192.0.2.1 -all');
      txt(z, 'good.example', `v=spf1 ${names.map((n) => `include:${n}`).join(' ')} -all`);
    },
  },
  { id: 'spf.void-limit', zone: (z) => txt(z, 'good.example', 'v=spf1 a:v1.good.example a:v2.good.example a:v3.good.example -all') },
  {
    id: 'spf.mx-too-many-hosts',
    zone: (z) => {
      z['many.good.example'] = { MX: Array.from({ length: 11 }, (_, i) => ({ priority: i, exchange: `m${i}.good.example` })) };
      txt(z, 'good.example', 'v=spf1 mx:many.good.example -all');
    },
  },
  {
    id: 'spf.multi-string',
    zone: (z) => txt(z, 'good.example', `v=spf1 ${Array.from({ length: 20 }, (_, i) => `ip4:198.51.100.${i}`).join(' ')} -all`),
  },
  {
    id: 'spf.udp-512',
    zone: (z) =>
      txt(z, 'good.example', `v=spf1 ${Array.from({ length: 40 }, (_, i) => `ip4:198.51.100.${i}`).join(' ')} -all`, 'x'.repeat(200)),
  },
  {
    id: 'spf.parked-not-locked',
    zone: (z) => {
      z['good.example']!.MX = [{ priority: 0, exchange: '.' }];
      txt(z, 'good.example', 'v=spf1 mx ~all');
    },
  },
  { id: 'dkim.no-selectors', selectors: [] },
  { id: 'dkim.key-missing', selectors: ['sel1', 'nope'] },
  {
    id: 'dkim.multiple-records',
    zone: (z) => txt(z, 'sel1._domainkey.good.example', `v=DKIM1; p=${keys.rsa2048}`, `v=DKIM1; p=${keys.rsa2048b}`),
  },
  { id: 'dkim.invalid-record', zone: (z) => txt(z, 'sel1._domainkey.good.example', 'v=DKIM1; k=rsa; p=bm90IGEga2V5') },
  { id: 'dkim.key-revoked', zone: (z) => txt(z, 'sel1._domainkey.good.example', 'v=DKIM1; k=rsa; p=') },
  { id: 'dkim.testing', zone: (z) => txt(z, 'sel1._domainkey.good.example', `v=DKIM1; k=rsa; t=y; p=${keys.rsa2048}`) },
  { id: 'dkim.weak-rsa', zone: (z) => txt(z, 'sel1._domainkey.good.example', `v=DKIM1; k=rsa; p=${keys.rsa1024}`) },
  { id: 'dmarc.missing', zone: (z) => delete z['_dmarc.good.example'] },
  { id: 'dmarc.lookup-failed', dns: (names) => ({ authenticated: names, servfail: ['_dmarc.good.example'] }) },
  { id: 'dmarc.inherited', domain: 'shop.good.example' },
  { id: 'dmarc.wrong-location', zone: (z) => txt(z, 'good.example', 'v=spf1 mx -all', 'v=DMARC1; p=reject') },
  { id: 'dmarc.multiple-records', zone: (z) => txt(z, '_dmarc.good.example', 'v=DMARC1; p=reject', 'v=DMARC1; p=none') },
  { id: 'dmarc.syntax', zone: (z) => txt(z, '_dmarc.good.example', 'v=DMARC1; p=maybe; rua=mailto:d@good.example') },
  { id: 'dmarc.policy-none', zone: (z) => txt(z, '_dmarc.good.example', 'v=DMARC1; p=none; rua=mailto:d@good.example') },
  { id: 'dmarc.policy-quarantine', zone: (z) => txt(z, '_dmarc.good.example', 'v=DMARC1; p=quarantine; rua=mailto:d@good.example') },
  { id: 'dmarc.subdomain-weaker', zone: (z) => txt(z, '_dmarc.good.example', 'v=DMARC1; p=reject; sp=none; rua=mailto:d@good.example') },
  { id: 'dmarc.np-weaker', zone: (z) => txt(z, '_dmarc.good.example', 'v=DMARC1; p=reject; np=none; rua=mailto:d@good.example') },
  { id: 'dmarc.testing', zone: (z) => txt(z, '_dmarc.good.example', 'v=DMARC1; p=reject; t=y; rua=mailto:d@good.example') },
  { id: 'dmarc.pct-partial', zone: (z) => txt(z, '_dmarc.good.example', 'v=DMARC1; p=reject; pct=20; rua=mailto:d@good.example') },
  { id: 'dmarc.removed-tag', zone: (z) => txt(z, '_dmarc.good.example', 'v=DMARC1; p=reject; rf=afrf; rua=mailto:d@good.example') },
  { id: 'dmarc.no-rua', zone: (z) => txt(z, '_dmarc.good.example', 'v=DMARC1; p=reject') },
  { id: 'dmarc.invalid-uri', zone: (z) => txt(z, '_dmarc.good.example', 'v=DMARC1; p=reject; rua=mailto:') },
  { id: 'dmarc.external-unauthorized', zone: (z) => txt(z, '_dmarc.good.example', 'v=DMARC1; p=reject; rua=mailto:d@reports.example') },
  { id: 'mta-sts.missing', zone: (z) => delete z['_mta-sts.good.example'] },
  { id: 'mta-sts.txt-invalid', zone: (z) => txt(z, '_mta-sts.good.example', 'v=STSv1; id=not valid!') },
  { id: 'mta-sts.policy-fetch-failed', lab: policy(goodPolicy, 'text/html') },
  { id: 'mta-sts.policy-fetch-failed', lab: (lab) => lab.policies.delete('good.example') },
  { id: 'mta-sts.policy-invalid', lab: policy('version: STSv1\nmode: enforce\n') },
  { id: 'mta-sts.unknown-keys', lab: policy(`${goodPolicy}max-age: 86400\n`) },
  { id: 'mta-sts.mode-testing', lab: policy(goodPolicy.replace('enforce', 'testing')) },
  { id: 'mta-sts.mode-none', lab: policy(goodPolicy.replace('enforce', 'none')) },
  { id: 'mta-sts.max-age-short', lab: policy(goodPolicy.replace('1209600', '600')) },
  { id: 'mta-sts.max-age-capped', lab: policy(goodPolicy.replace('1209600', '99999999')) },
  { id: 'mta-sts.mx-not-covered', lab: policy('version: STSv1\nmode: enforce\nmx: mx1.good.example\nmax_age: 1209600\n') },
  { id: 'mta-sts.certificate-expiring', certDays: 3 },
  { id: 'tls-rpt.missing', zone: (z) => delete z['_smtp._tls.good.example'] },
  {
    id: 'tls-rpt.multiple-records',
    zone: (z) => txt(z, '_smtp._tls.good.example', 'v=TLSRPTv1; rua=mailto:a@good.example', 'v=TLSRPTv1; rua=mailto:b@good.example'),
  },
  { id: 'tls-rpt.invalid', zone: (z) => txt(z, '_smtp._tls.good.example', 'v=TLSRPTv1;') },
  { id: 'tls-rpt.bad-rua', zone: (z) => txt(z, '_smtp._tls.good.example', 'v=TLSRPTv1; rua=http://reports.good.example/tls') },
  { id: 'dnssec.unsigned', dns: () => ({}) },
  { id: 'dnssec.mx-unsigned', dns: (names) => ({ authenticated: names.filter((n) => n !== 'mx2.good.example') }) },
  { id: 'dane.missing', zone: (z) => delete z['_25._tcp.mx1.good.example'] },
  { id: 'dane.lookup-failed', dns: (names) => ({ authenticated: names, servfail: ['_25._tcp.mx1.good.example'] }) },
  { id: 'dane.insecure-tlsa', dns: (names) => ({ authenticated: names.filter((n) => n !== '_25._tcp.mx1.good.example') }) },
  {
    id: 'dane.pkix-usage',
    zone: (z) => z['_25._tcp.mx1.good.example']!.TLSA!.push({ usage: 1, selector: 1, matchingType: 1, data: digest(32) }),
  },
  {
    id: 'dane.unusable-record',
    zone: (z) => z['_25._tcp.mx1.good.example']!.TLSA!.push({ usage: 3, selector: 1, matchingType: 1, data: digest(20) }),
  },
  { id: 'dane.no-rollover', zone: (z) => z['_25._tcp.mx1.good.example']!.TLSA!.pop() },
  { id: 'bimi.missing', zone: (z) => delete z['default._bimi.good.example'] },
  { id: 'bimi.invalid', zone: (z) => txt(z, 'default._bimi.good.example', 'v=BIMI1; a=https://bimi.good.example/vmc.pem') },
  {
    id: 'bimi.logo-not-https',
    zone: (z) => txt(z, 'default._bimi.good.example', 'v=BIMI1; l=http://bimi.good.example/logo.svg; a=https://bimi.good.example/vmc.pem'),
  },
  { id: 'bimi.logo-fetch-failed', lab: (lab) => lab.files.set('bimi.good.example/logo.svg', { body: 'GIF89a', contentType: 'image/gif' }) },
  { id: 'bimi.no-certificate', zone: (z) => txt(z, 'default._bimi.good.example', 'v=BIMI1; l=https://bimi.good.example/logo.svg') },
  { id: 'bimi.certificate-fetch-failed', lab: (lab) => lab.files.delete('bimi.good.example/vmc.pem') },
  { id: 'bimi.dmarc-not-enforced', zone: (z) => txt(z, '_dmarc.good.example', 'v=DMARC1; p=none; rua=mailto:d@good.example') },
];

for (const c of cases) {
  test(`${c.id} is reported for a zone that has it`, async (t) => {
    const zone = goodZone();
    c.zone?.(zone);
    const lab = await startLab(t, {
      zone,
      dnsOptions: (c.dns ?? ((names) => ({ authenticated: names })))(Object.keys(goodZone())),
      ...(c.certDays ? { certDays: c.certDays, now: Date.now() } : {}),
    });
    c.lab?.(lab);
    const audit = await lab.audit(c.domain ?? 'good.example', {
      selectors: c.selectors ?? ['sel1', 'sel2'],
      approvedMx: ['*.good.example'],
    });
    const found = audit.findings.filter((f) => f.id === c.id);
    assert.ok(found.length > 0, `expected ${c.id}; got ${ids(audit).join(', ') || 'none'}`);
    for (const f of found) assert.equal(f.severity, catalogue[c.id]!.severity);
  });
}

// Findings that need more than a zone (a tenant's third-party register) are produced in a file of their own.
const elsewhere: Record<string, string> = { 'third-party.on-apex': 'delegation.test.ts' };

test('every finding in the catalogue is produced by a zone in these tests', () => {
  for (const [id, file] of Object.entries(elsewhere)) {
    assert.ok(readFileSync(new URL(file, import.meta.url), 'utf8').includes(`'${id}'`), `${file} should produce ${id}`);
  }
  const covered = new Set([...cases.map((c) => c.id), ...Object.keys(elsewhere)]);
  assert.deepEqual(
    findingIds().filter((id) => !covered.has(id)),
    [],
  );
});
