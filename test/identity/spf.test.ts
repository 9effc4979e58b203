import assert from 'node:assert/strict';
import { test } from 'node:test';
import { systemClock } from '../../src/core/index.js';
import { createResolver } from '../../src/dns/index.js';
import { checkHost, checkSpf } from '../../src/identity/index.js';
import { startDnsServer } from '../support/dns-server.js';
import { zoneResolver } from './zone-resolver.js';

test('evaluates a record through the loopback DNS server end to end', async (t) => {
  const dns = await startDnsServer(
    t,
    {
      'example.com': { TXT: ['v=spf1 mx include:_spf.provider.example -all'], MX: [{ exchange: 'mx.example.com', priority: 10 }] },
      'mx.example.com': { A: ['192.0.2.10'] },
      '_spf.provider.example': { TXT: [['v=spf1 ip4:198.51.100.0/24 ', 'ip6:2001:db8::/32 -all']] },
    },
    { servfail: ['broken.example.com'] },
  );
  const resolver = createResolver({ servers: [dns.address], timeoutMs: 500, tries: 1, clock: systemClock, cache: false });
  const viaMx = await checkSpf({ ip: '192.0.2.10', mailFrom: 'a@example.com', helo: 'mx.example.com' }, { resolver });
  assert.equal(viaMx.result, 'pass');
  assert.equal(viaMx.mechanism, 'mx');
  // The include's record arrives as two character-strings and is joined without a space.
  const viaInclude = await checkSpf({ ip: '2001:db8::7', mailFrom: 'a@example.com', helo: 'x' }, { resolver });
  assert.equal(viaInclude.result, 'pass');
  assert.equal(viaInclude.mechanism, 'include:_spf.provider.example');
  const denied = await checkSpf({ ip: '203.0.113.1', mailFrom: 'a@example.com', helo: 'x' }, { resolver });
  assert.equal(denied.result, 'fail');
  const broken = await checkSpf({ ip: '203.0.113.1', mailFrom: 'a@broken.example.com', helo: 'x' }, { resolver });
  assert.equal(broken.result, 'temperror');
});

test('the trace records every evaluated term and its outcome as evidence', async () => {
  const resolver = zoneResolver({
    'example.com': { TXT: ['v=spf1 ip4:198.51.100.1 a:nx.example.com include:inc.example.com -all'] },
    'inc.example.com': { TXT: ['v=spf1 ip4:192.0.2.0/24'] },
  });
  const r = await checkHost({ ip: '192.0.2.5', domain: 'example.com', sender: 'a@example.com' }, { resolver });
  assert.equal(r.result, 'pass');
  assert.equal(r.lookups, 2);
  assert.equal(r.voidLookups, 1);
  assert.equal(r.record, 'v=spf1 ip4:198.51.100.1 a:nx.example.com include:inc.example.com -all');
  assert.deepEqual(
    r.trace.filter((l) => l.includes('→')),
    [
      'example.com: ip4:198.51.100.1 → no match',
      'example.com: a:nx.example.com → no match',
      'inc.example.com: ip4:192.0.2.0/24 → match',
      'example.com: include:inc.example.com → match',
    ],
  );
});

test('a permerror names the offending term and the limit', async () => {
  const resolver = zoneResolver({ 'example.com': { TXT: ['v=spf1 a:one.example.com a:two.example.com a:three.example.com'] } });
  const r = await checkHost({ ip: '192.0.2.5', domain: 'example.com', sender: 'a@example.com' }, { resolver });
  assert.equal(r.result, 'permerror');
  assert.match(r.problem ?? '', /a:three\.example\.com.*void lookups/);
});

test('an address that is not an IP is a permerror without any DNS query', async () => {
  const resolver = zoneResolver({});
  const r = await checkHost({ ip: 'not-an-ip', domain: 'example.com', sender: 'a@example.com' }, { resolver });
  assert.equal(r.result, 'permerror');
  assert.deepEqual(resolver.queries, []);
});

test('mechanisms after the deciding one cause no DNS queries', async () => {
  const resolver = zoneResolver({ 'example.com': { TXT: ['v=spf1 ip4:192.0.2.5 mx exists:x.example.com -all'] } });
  await checkHost({ ip: '192.0.2.5', domain: 'example.com', sender: 'a@example.com' }, { resolver });
  assert.deepEqual(resolver.queries, ['TXT example.com']);
});
