import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import dns from 'node:dns';
import { type TestContext, test } from 'node:test';
import dnsPacket from 'dns-packet';
import { parseServerAddress } from '../../src/dns/exchange.js';
import { createResolver, type DnsRecordType, type DnsResult } from '../../src/dns/index.js';
import { type DnsServerOptions, startDnsServer, type Zone } from '../support/dns-server.js';

const tlsaData = Buffer.from('8cb0fc6c527506a053f4f14c8464bebbd6dede2738d11468dd953d7d6a3021f1', 'hex');

const zone: Zone = {
  'example.com': { MX: [{ priority: 10, exchange: 'mx.example.com' }], TXT: ['v=spf1 -all', ['part one ', 'part two']], A: ['127.0.0.1'] },
  'mx.example.com': { A: ['127.0.0.1'], AAAA: ['::1'] },
  'alias.example.com': { CNAME: 'alias2.example.com' },
  'alias2.example.com': { CNAME: 'example.com' },
  'dangling.example.com': { CNAME: 'nowhere.example.com' },
  'loop1.example.com': { CNAME: 'loop2.example.com' },
  'loop2.example.com': { CNAME: 'loop1.example.com' },
  '_25._tcp.mx.example.com': { TLSA: [{ usage: 3, selector: 1, matchingType: 1, data: tlsaData }] },
  'big.example.com': { TXT: ['b'.repeat(3000)] },
  'medium.example.com': { TXT: ['m'.repeat(600)] },
};

/** A clock the test moves by hand. */
function fakeClock(start = 1_700_000_000_000) {
  let now = start;
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

async function setup(
  t: TestContext,
  options: DnsServerOptions = {},
  resolverOptions: { cache?: boolean; timeoutMs?: number; tries?: number } = {},
) {
  const server = await startDnsServer(t, zone, options);
  const clock = fakeClock();
  const resolver = createResolver({ servers: [server.address], clock, timeoutMs: 500, ...resolverOptions });
  return { server, clock, resolver };
}

function answerOf<T extends DnsRecordType>(r: DnsResult<T>) {
  assert.equal(r.kind, 'answer', `expected an answer, got ${JSON.stringify(r)}`);
  return r as Extract<DnsResult<T>, { kind: 'answer' }>;
}

test('resolves A and AAAA records with the TTL the server gave', async (t) => {
  const { resolver } = await setup(t, { ttl: 123 });
  const a = answerOf(await resolver.lookup('mx.example.com', 'A'));
  assert.deepEqual(a.records, ['127.0.0.1']);
  assert.equal(a.ttl, 123);
  assert.deepEqual(answerOf(await resolver.lookup('mx.example.com', 'AAAA')).records, ['::1']);
});

test('resolves MX records into exchange and priority', async (t) => {
  const { resolver } = await setup(t);
  assert.deepEqual(answerOf(await resolver.lookup('Example.COM.', 'MX')).records, [{ exchange: 'mx.example.com', priority: 10 }]);
});

test('joins the character-strings of each TXT record into one string per record', async (t) => {
  const { resolver } = await setup(t);
  assert.deepEqual(answerOf(await resolver.lookup('example.com', 'TXT')).records, ['v=spf1 -all', 'part one part two']);
});

test('follows a CNAME chain in the answer and reports the final records', async (t) => {
  const { resolver } = await setup(t);
  const a = answerOf(await resolver.lookup('alias.example.com', 'A'));
  assert.equal(a.name, 'alias.example.com');
  assert.deepEqual(a.records, ['127.0.0.1']);
  assert.deepEqual(answerOf(await resolver.lookup('alias.example.com', 'CNAME')).records, ['alias2.example.com']);
});

test('reports NXDOMAIN when a CNAME points at a name that does not exist', async (t) => {
  const { resolver } = await setup(t);
  assert.equal((await resolver.lookup('dangling.example.com', 'A')).kind, 'nxdomain');
});

test('ends a CNAME loop as NODATA instead of looping', async (t) => {
  const { resolver } = await setup(t);
  assert.equal((await resolver.lookup('loop1.example.com', 'A')).kind, 'nodata');
});

test('parses TLSA records', async (t) => {
  const { resolver } = await setup(t);
  const r = answerOf(await resolver.lookup('_25._tcp.mx.example.com', 'TLSA'));
  assert.deepEqual(r.records, [{ usage: 3, selector: 1, matchingType: 1, data: tlsaData }]);
});

test('receives a 600-byte TXT over UDP thanks to the EDNS payload size', async (t) => {
  const { resolver, server } = await setup(t);
  assert.equal(answerOf(await resolver.lookup('medium.example.com', 'TXT')).records[0], 'm'.repeat(600));
  assert.deepEqual(
    server.queries.map((q) => q.transport),
    ['udp'],
  );
});

test('retries over TCP when the UDP answer is truncated', async (t) => {
  const { resolver, server } = await setup(t);
  assert.equal(answerOf(await resolver.lookup('big.example.com', 'TXT')).records[0], 'b'.repeat(3000));
  assert.deepEqual(
    server.queries.map((q) => q.transport),
    ['udp', 'tcp'],
  );
});

test('tells NXDOMAIN, NODATA and an empty non-terminal apart', async (t) => {
  const { resolver } = await setup(t);
  assert.equal((await resolver.lookup('missing.example.com', 'A')).kind, 'nxdomain');
  assert.equal((await resolver.lookup('mx.example.com', 'TXT')).kind, 'nodata');
  assert.equal((await resolver.lookup('_tcp.mx.example.com', 'TXT')).kind, 'nodata');
});

test('reports SERVFAIL as an error and does not ask that server again', async (t) => {
  const { resolver, server } = await setup(t, { servfail: ['example.com'] }, { tries: 3 });
  const r = await resolver.lookup('example.com', 'A');
  assert.equal(r.kind === 'error' && r.failure, 'servfail');
  assert.equal(server.queries.length, 1);
});

test('reports a timeout when the server answers later than timeoutMs', async (t) => {
  const { resolver, server } = await setup(t, { delayMs: 400 }, { timeoutMs: 100, tries: 2 });
  const r = await resolver.lookup('example.com', 'A');
  assert.equal(r.kind === 'error' && r.failure, 'timeout');
  assert.equal(server.queries.length, 2);
});

test('moves to the next server when the first one times out', async (t) => {
  const slow = await startDnsServer(t, zone, { delayMs: 400 });
  const fast = await startDnsServer(t, zone);
  const resolver = createResolver({ servers: [slow.address, fast.address], clock: fakeClock(), timeoutMs: 100, tries: 1 });
  assert.deepEqual(answerOf(await resolver.lookup('example.com', 'A')).records, ['127.0.0.1']);
  assert.equal(resolver.describe(), `dns stub resolver via ${slow.address}, ${fast.address}`);
});

test('reads the AD bit into authenticated, asking with the DO bit', async (t) => {
  const { resolver, server } = await setup(t, { authenticated: ['_25._tcp.mx.example.com'] });
  assert.equal(answerOf(await resolver.lookup('_25._tcp.mx.example.com', 'TLSA')).authenticated, true);
  assert.equal(answerOf(await resolver.lookup('example.com', 'A')).authenticated, false);
  assert.ok(server.queries.every((q) => q.dnssecOk));
});

test('answers a repeated lookup from the cache', async (t) => {
  const { resolver, server } = await setup(t);
  await resolver.lookup('example.com', 'MX');
  const again = answerOf(await resolver.lookup('EXAMPLE.COM', 'MX'));
  assert.deepEqual(again.records, [{ exchange: 'mx.example.com', priority: 10 }]);
  assert.equal(server.queries.length, 1);
});

test('shares one query between concurrent lookups of the same name and type', async (t) => {
  const { resolver, server } = await setup(t, {}, { cache: false });
  const results = await Promise.all([resolver.lookup('example.com', 'A'), resolver.lookup('example.com', 'A')]);
  assert.deepEqual(
    results.map((r) => r.kind),
    ['answer', 'answer'],
  );
  assert.equal(server.queries.length, 1);
});

test('asks again once the TTL has passed on the clock', async (t) => {
  const { resolver, server, clock } = await setup(t, { ttl: 30 });
  await resolver.lookup('example.com', 'A');
  clock.advance(20_000);
  assert.equal(answerOf(await resolver.lookup('example.com', 'A')).ttl, 10);
  assert.equal(server.queries.length, 1);
  clock.advance(10_000);
  await resolver.lookup('example.com', 'A');
  assert.equal(server.queries.length, 2);
});

test('caches a negative answer for the SOA minimum', async (t) => {
  const { resolver, server, clock } = await setup(t, { negativeTtl: 5 });
  await resolver.lookup('missing.example.com', 'A');
  clock.advance(4_000);
  await resolver.lookup('missing.example.com', 'A');
  assert.equal(server.queries.length, 1);
  clock.advance(2_000);
  await resolver.lookup('missing.example.com', 'A');
  assert.equal(server.queries.length, 2);
});

test('caches a negative answer without an SOA for 60 seconds', async (t) => {
  const { resolver, server, clock } = await setup(t, { omitSoa: true });
  await resolver.lookup('mx.example.com', 'TXT');
  clock.advance(59_000);
  await resolver.lookup('mx.example.com', 'TXT');
  assert.equal(server.queries.length, 1);
  clock.advance(2_000);
  await resolver.lookup('mx.example.com', 'TXT');
  assert.equal(server.queries.length, 2);
});

test('does not cache failures', async (t) => {
  const { resolver, server } = await setup(t, { servfail: ['example.com'] });
  await resolver.lookup('example.com', 'A');
  server.setOptions({});
  assert.equal((await resolver.lookup('example.com', 'A')).kind, 'answer');
  assert.equal(server.queries.length, 2);
});

test('ignores a reply with the wrong id and takes the matching one', async (t) => {
  const socket = dgram.createSocket('udp4');
  t.after(() => socket.close());
  socket.on('message', (msg, rinfo) => {
    const query = dnsPacket.decode(msg);
    const reply = (id: number, address: string) =>
      dnsPacket.encode({
        type: 'response',
        id,
        flags: dnsPacket.RECURSION_AVAILABLE,
        questions: query.questions,
        answers: [{ type: 'A', name: 'example.com', ttl: 60, data: address }],
      });
    // A forged reply first (wrong id), then the real one.
    socket.send(reply(((query.id ?? 0) + 1) % 65_536, '192.0.2.66'), rinfo.port, rinfo.address);
    socket.send(reply(query.id ?? 0, '192.0.2.1'), rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const resolver = createResolver({ servers: [`127.0.0.1:${socket.address().port}`], clock: fakeClock(), timeoutMs: 500 });
  assert.deepEqual(answerOf(await resolver.lookup('example.com', 'A')).records, ['192.0.2.1']);
});

test('refuses an invalid name without sending a query', async (t) => {
  const { resolver, server } = await setup(t);
  const r = await resolver.lookup(`${'a'.repeat(64)}.example.com`, 'A');
  assert.equal(r.kind === 'error' && r.failure, 'formerr');
  assert.equal(server.queries.length, 0);
});

test('uses the system resolvers (/etc/resolv.conf) when no servers are configured, absent or empty', () => {
  // node:dns reads the same file through c-ares; an empty list (the config default) is not "no servers".
  const labels = dns.getServers().map((spec) => parseServerAddress(spec).label);
  const expected = `dns stub resolver via ${labels.join(', ') || '127.0.0.1:53'} (from /etc/resolv.conf)`;
  assert.equal(createResolver({ clock: fakeClock() }).describe(), expected);
  assert.equal(createResolver({ clock: fakeClock(), servers: [] }).describe(), expected);
});

test('parses server addresses with and without ports', () => {
  assert.deepEqual(parseServerAddress('127.0.0.1'), { host: '127.0.0.1', port: 53, family: 4, label: '127.0.0.1:53' });
  assert.deepEqual(parseServerAddress('127.0.0.1:5353'), { host: '127.0.0.1', port: 5353, family: 4, label: '127.0.0.1:5353' });
  assert.deepEqual(parseServerAddress('[::1]:5353'), { host: '::1', port: 5353, family: 6, label: '[::1]:5353' });
  assert.deepEqual(parseServerAddress('::1'), { host: '::1', port: 53, family: 6, label: '[::1]:53' });
  assert.throws(() => parseServerAddress('dns.example.com'), { code: 'CONFIG_INVALID' });
  assert.throws(() => parseServerAddress('127.0.0.1:70000'), { code: 'CONFIG_INVALID' });
});
