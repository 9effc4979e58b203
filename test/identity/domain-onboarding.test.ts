import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Zone } from '../support/dns-server.js';
import { startDnsServer } from '../support/dns-server.js';
import { startPlatform } from '../support/platform.js';

/**
 * Done-means 1 of the identity issue: a domain added through the API yields records that, served by
 * the loopback DNS server, verify green; taking one away or changing it turns that record red with
 * what DNS holds shown.
 */
interface WireRecord {
  id: string;
  kind: string;
  type: 'TXT' | 'MX' | 'CNAME';
  name: string;
  value: string;
  why: string;
  action: string;
}

/** The zone a tenant would publish: every `publish` record at its name. */
export function zoneOf(records: WireRecord[], base: Zone = {}): Zone {
  const zone: Zone = structuredClone(base);
  for (const r of records.filter((x) => x.action === 'publish')) {
    const e = (zone[r.name] ??= {});
    if (r.type === 'TXT') e.TXT = [...(e.TXT ?? []), r.value];
    if (r.type === 'MX') {
      const [priority, exchange] = r.value.split(' ');
      e.MX = [...(e.MX ?? []), { priority: Number(priority), exchange: exchange! }];
    }
    if (r.type === 'CNAME') e.CNAME = r.value;
  }
  return zone;
}

test('a domain added through the API lists every record, verifies green when published, and red per record when not', async (t) => {
  const dns = await startDnsServer(t, {});
  const p = await startPlatform(t, {
    config: {
      dns: { servers: [dns.address], timeoutMs: 1000 },
      identity: { sendingIps: ['192.0.2.25', '2001:db8::25'], inboundMxHost: 'mx.pw.test', trackingHost: 'track.pw.test' },
      feedback: { reportDomain: 'reports.pw.test' },
    },
  });
  const added = await p.request('POST', '/v1/domains', { name: 'shop.test', streams: ['transactional'] });
  assert.equal(added.status, 201, JSON.stringify(added.body));
  const records = added.body.dns_records as WireRecord[];
  const byId = Object.fromEntries(records.map((r) => [r.id, r]));
  assert.deepEqual(added.body.streams, ['transactional']);
  assert.deepEqual(
    records.map((r) => [r.kind, r.type, r.name]),
    [
      ['dkim', 'TXT', records[0]!.name],
      ['spf', 'TXT', 'shop.test'],
      ['dmarc', 'TXT', '_dmarc.shop.test'],
      ['return-path-mx', 'MX', 'bounces.shop.test'],
      ['return-path-spf', 'TXT', 'bounces.shop.test'],
      ['tracking', 'CNAME', 'track.shop.test'],
    ],
  );
  assert.match(records[0]!.name, /^pw\d{6}a\._domainkey\.shop\.test$/);
  assert.equal(byId.dmarc!.value, 'v=DMARC1; p=none; rua=mailto:dmarc@reports.pw.test');
  assert.equal(byId.spf!.value, 'v=spf1 ip4:192.0.2.25 ip6:2001:db8::25 ~all');
  assert.equal(byId['return-path-mx']!.value, '10 mx.pw.test');
  assert.ok(records.every((r) => r.why.length > 20));

  const id = added.body.id as string;
  // Nothing published yet: every record is missing and the domain is not verified.
  const before = await p.request('POST', `/v1/domains/${id}/verify`);
  assert.equal(before.status, 200);
  assert.equal(before.body.verified, false);
  assert.ok(before.body.records.every((r: { status: string }) => r.status === 'missing'));

  dns.setZone(zoneOf(records));
  const green = await p.request('POST', `/v1/domains/${id}/verify`);
  assert.deepEqual(
    green.body.records.map((r: { id: string; status: string }) => [r.id, r.status]),
    records.map((r) => [r.id, 'ok']),
  );
  assert.equal(green.body.verified, true);
  const shown = await p.request('GET', `/v1/domains/${id}`);
  assert.equal(shown.body.verification.verified, true);
  assert.ok(shown.body.verified_at);

  // Take the DMARC record away and replace the return path's SPF: both turn red, with what DNS holds.
  const zone = zoneOf(records);
  delete zone['_dmarc.shop.test'];
  zone['bounces.shop.test']!.TXT = ['v=spf1 include:other.example -all'];
  dns.setZone(zone);
  const red = await p.request('POST', `/v1/domains/${id}/verify`);
  const status = Object.fromEntries(red.body.records.map((r: { id: string }) => [r.id, r]));
  assert.equal(red.body.verified, false);
  assert.equal(status.dmarc.status, 'missing');
  assert.equal(status.dmarc.found, null);
  assert.equal(status['return-path-spf'].status, 'mismatch');
  assert.deepEqual(status['return-path-spf'].found, ['v=spf1 include:other.example -all']);
  assert.match(status['return-path-spf'].detail, /lacks ip4:192\.0\.2\.25 ip6:2001:db8::25/);
  for (const ok of ['spf', 'return-path-mx', 'tracking', records[0]!.id]) assert.equal(status[ok].status, 'ok', ok);
});

test('the verification schedule re-checks domains when their interval is due', async (t) => {
  const dns = await startDnsServer(t, {});
  const { fakeClock } = await import('../support/clock.js');
  const clock = fakeClock();
  const p = await startPlatform(t, {
    clock,
    config: { dns: { servers: [dns.address], timeoutMs: 1000 }, identity: { verifyIntervalMinutes: 60 } },
  });
  const added = await p.request('POST', '/v1/domains', { name: 'shop.test' });
  dns.setZone(zoneOf(added.body.dns_records));
  const first = await p.platform.identityMonitor.tick();
  assert.deepEqual(first.verified.sort(), ['example.com', 'shop.test']);
  clock.advance(30 * 60_000);
  assert.deepEqual((await p.platform.identityMonitor.tick()).verified, [], 'not due after 30 minutes');
  clock.advance(31 * 60_000);
  assert.deepEqual((await p.platform.identityMonitor.tick()).verified.sort(), ['example.com', 'shop.test']);
  const shown = await p.request('GET', `/v1/domains/${added.body.id}`);
  assert.equal(shown.body.verification.verified, true);
  assert.equal(shown.body.checked_at, new Date(clock.now()).toISOString());
});
