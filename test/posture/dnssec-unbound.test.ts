import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createResolver } from '../../src/dns/index.js';
import { auditDomain } from '../../src/posture/index.js';
import { fakeClock } from '../support/clock.js';
import type { Zone } from '../support/dns-server.js';
import { signZone } from '../support/dnssec-signer.js';
import { findUnbound, startUnbound } from '../support/unbound.js';
import { goodZone, startLab } from './posture-lab.js';

/**
 * DNSSEC through a real validating resolver: good.example is signed in the test (ECDSA P-256,
 * algorithm 13, NSEC chain) and served by the loopback DNS server, which never sets AD itself;
 * unbound, trusting only the zone's DS, validates it. plain.example is unsigned (no anchor covers
 * it) and bad.example is signed with a broken signature. unbound is optional: without it on PATH
 * these tests skip, saying so.
 */
const unbound = findUnbound();
const skip = unbound ? false : 'unbound is not on PATH (apt-get install unbound): DNSSEC validation through a real resolver not tested';

function zones() {
  const good: Zone = Object.fromEntries(Object.entries(goodZone()).filter(([n]) => n.endsWith('good.example')));
  const signed = signZone(good, 'good.example');
  const bad = signZone(
    { 'bad.example': { MX: [{ priority: 10, exchange: 'mx.bad.example' }] }, 'mx.bad.example': { A: ['192.0.2.40'] } },
    'bad.example',
  );
  const sig = bad.zone['bad.example']!.RRSIG!.find((s) => s.typeCovered === 'MX')!;
  sig.signature = Buffer.from(sig.signature.map((b, i) => (i === 0 ? b ^ 0xff : b)));
  const plain: Zone = {
    'plain.example': { MX: [{ priority: 10, exchange: 'mx.plain.example' }] },
    'mx.plain.example': { A: ['192.0.2.50'] },
  };
  return { zone: { ...signed.zone, ...bad.zone, ...plain }, anchors: [signed.dsAnchor, bad.dnskeyAnchor] };
}

async function setUp(t: import('node:test').TestContext) {
  const { zone, anchors } = zones();
  const lab = await startLab(t, { zone, dnsOptions: {} });
  const resolver = await startUnbound(t, unbound!, {
    stubZones: ['good.example', 'bad.example', 'plain.example'].map((name) => ({ name, address: lab.dns.address })),
    trustAnchors: anchors,
  });
  return { lab, resolverAddress: resolver.address, log: resolver.log };
}

test('unbound validates the signed test zone: answers and denials carry AD, unsigned and bogus ones do not', { skip }, async (t) => {
  const { resolverAddress, log } = await setUp(t);
  const r = createResolver({ servers: [resolverAddress], clock: fakeClock(), cache: false, timeoutMs: 2000, tries: 1 });
  const mx = await r.lookup('good.example', 'MX');
  assert.equal(mx.kind, 'answer', log());
  assert.equal(mx.kind === 'answer' && mx.authenticated, true, `MX good.example validates; unbound said: ${log()}`);
  const tlsa = await r.lookup('_25._tcp.mx1.good.example', 'TLSA');
  assert.equal(tlsa.kind === 'answer' && tlsa.authenticated, true);
  const nodata = await r.lookup('mx1.good.example', 'AAAA');
  assert.deepEqual([nodata.kind, nodata.kind !== 'error' && nodata.authenticated], ['nodata', true], 'NSEC proves NODATA');
  const nx = await r.lookup('nothing.good.example', 'A');
  assert.deepEqual([nx.kind, nx.kind !== 'error' && nx.authenticated], ['nxdomain', true], 'NSEC proves NXDOMAIN');
  const plain = await r.lookup('plain.example', 'MX');
  assert.deepEqual([plain.kind, plain.kind === 'answer' && plain.authenticated], ['answer', false], 'an unsigned zone is insecure');
  const bogus = await r.lookup('bad.example', 'MX');
  assert.deepEqual([bogus.kind, bogus.kind === 'error' && bogus.failure], ['error', 'servfail'], 'a bad signature is bogus');
});

test('the audit reports the signed domain and its MX hosts as validated through unbound', { skip }, async (t) => {
  const { lab, resolverAddress, log } = await setUp(t);
  const resolver = createResolver({ servers: [resolverAddress], clock: lab.clock, cache: false, timeoutMs: 2000, tries: 1 });
  const audit = await auditDomain('good.example', { ...lab.deps(), resolver }, { selectors: ['sel1', 'sel2'] });
  const dnssec = audit.facts['dnssec-dane'] as { domainSecure: boolean; hosts: Record<string, { secure: boolean; tlsaSecure: boolean }> };
  assert.equal(dnssec.domainSecure, true, `${JSON.stringify(audit.queries.filter((q) => q.name === 'good.example'))}\n${log()}`);
  assert.deepEqual(Object.keys(dnssec.hosts).sort(), ['mx1.good.example', 'mx2.good.example']);
  for (const h of Object.values(dnssec.hosts)) assert.deepEqual([h.secure, h.tlsaSecure], [true, true]);
  assert.deepEqual(
    audit.findings.filter((f) => f.area === 'dnssec' || f.area === 'dane').map((f) => f.id),
    [],
  );
  assert.match(audit.resolver, new RegExp(resolverAddress));

  const plain = await auditDomain('plain.example', { ...lab.deps(), resolver });
  assert.deepEqual(
    plain.findings
      .filter((f) => f.area === 'dnssec')
      .map((f) => f.id)
      .sort(),
    ['dnssec.mx-unsigned', 'dnssec.unsigned'],
  );
});
