import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { createResolver, parseResolvConf, readResolvConf } from '../../src/dns/index.js';
import { tempDir } from '../support/dialects.js';
import { startDnsServer, type Zone } from '../support/dns-server.js';
import { startPlatform } from '../support/platform.js';

const clock = { now: () => 1_700_000_000_000 };

/** The zone a tenant would publish from the records onboarding listed. */
function zoneOf(records: { type: string; name: string; value: string; action: string }[]): Zone {
  const zone: Zone = {};
  for (const r of records.filter((x) => x.action === 'publish')) {
    const e = (zone[r.name] ??= {});
    if (r.type === 'TXT') e.TXT = [...(e.TXT ?? []), r.value];
    if (r.type === 'MX') e.MX = [...(e.MX ?? []), { priority: Number(r.value.split(' ')[0]), exchange: r.value.split(' ')[1] ?? '' }];
    if (r.type === 'CNAME') e.CNAME = r.value;
  }
  return zone;
}

test('reads nameserver lines in order, IPv4 and IPv6, at most three, with port 53 unless bracketed with a port', () => {
  const conf = parseResolvConf(
    [
      '# written by the installer',
      'search example.internal',
      'nameserver 10.0.0.2',
      'nameserver 2001:db8::53 ; the IPv6 one',
      'nameserver [127.0.0.1]:5353',
      'nameserver 192.0.2.9',
      'options timeout:2 attempts:4 rotate',
    ].join('\n'),
  );
  assert.deepEqual(conf.servers, ['10.0.0.2', '[2001:db8::53]:53', '[127.0.0.1]:5353']);
  assert.equal(conf.attempts, 4);
  assert.equal(conf.timeoutSeconds, 2);
  assert.deepEqual(conf.ignored, []);
});

test('keeps an IPv6 zone, skips lines that are not IP addresses, and caps attempts at 5 like the C library', () => {
  const conf = parseResolvConf(
    'nameserver fe80::1%eth0\nnameserver dns.example.com\nnameserver [::1]:99999\noptions attempts:9\nbogus line\n',
  );
  assert.deepEqual(conf.servers, ['[fe80::1%eth0]:53']);
  assert.equal(conf.attempts, 5);
  assert.deepEqual(conf.ignored, ['nameserver dns.example.com', 'nameserver [::1]:99999', 'bogus line']);
});

test('no nameserver line, or no file, means the server on the local machine (resolv.conf(5))', (t) => {
  assert.deepEqual(parseResolvConf('search example.com\n').servers, ['127.0.0.1']);
  const missing = readResolvConf(join(tempDir(t), 'absent.conf'));
  assert.deepEqual(missing.servers, ['127.0.0.1']);
  assert.match(missing.unreadable ?? '', /ENOENT/);
});

test('a resolver with no servers configured asks the ones resolv.conf names', async (t) => {
  const dns = await startDnsServer(t, { 'example.com': { A: ['192.0.2.1'] } });
  const file = join(tempDir(t), 'resolv.conf');
  writeFileSync(file, `nameserver [${dns.address.replace(':', ']:')}\noptions attempts:1\n`);
  const resolver = createResolver({ servers: [], resolvConf: file, clock, timeoutMs: 1000 });
  const a = await resolver.lookup('example.com', 'A');
  assert.equal(a.kind, 'answer', JSON.stringify(a));
  assert.match(resolver.describe(), new RegExp(`${dns.address}.*from ${file}`));
});

test('a platform with the default empty dns.servers verifies a domain through the resolv.conf it is given', async (t) => {
  const dns = await startDnsServer(t, {});
  const file = join(tempDir(t), 'resolv.conf');
  writeFileSync(file, `# like /etc/resolv.conf on this host\nnameserver [${dns.address.replace(':', ']:')}\n`);
  const p = await startPlatform(t, {
    config: {
      dns: { resolvConf: file, timeoutMs: 1000 },
      identity: { sendingIps: ['192.0.2.25'], inboundMxHost: 'mx.pw.test' },
      feedback: { reportDomain: 'reports.pw.test' },
    },
  });
  assert.deepEqual(p.config.dns.servers, []);
  const added = await p.request('POST', '/v1/domains', { name: 'shop.test' });
  assert.equal(added.status, 201, JSON.stringify(added.body));
  dns.setZone(zoneOf(added.body.dns_records));
  const verified = await p.request('POST', `/v1/domains/${added.body.id}/verify`);
  assert.equal(verified.status, 200, JSON.stringify(verified.body));
  assert.equal(verified.body.verified, true, JSON.stringify(verified.body));
  assert.ok(dns.queries.length > 0);
});
