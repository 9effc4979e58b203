/**
 * The loopback DNS server, checked with raw dns-packet queries so it does not lean on our resolver.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { test } from 'node:test';
import dnsPacket, { type DecodedPacket } from 'dns-packet';
import { type DnsTestServer, startDnsServer, startDnsServerRaw, type Zone } from './dns-server.js';

const zone: Zone = {
  'example.com': { MX: [{ priority: 10, exchange: 'mx.example.com' }], TXT: ['v=spf1 -all'], A: ['127.0.0.1'] },
  'mx.example.com': { A: ['127.0.0.1'], AAAA: ['::1'] },
  'alias.example.com': { CNAME: 'example.com' },
  'a.deep.example.com': { A: ['127.0.0.2'] },
};

interface AskOptions {
  transport?: 'udp' | 'tcp';
  /** EDNS payload size to advertise; none sends no OPT record. */
  edns?: number;
  dnssecOk?: boolean;
}

let nextId = 1;

/** One query straight over the wire. */
function ask(server: DnsTestServer, name: string, type: dnsPacket.RecordType, o: AskOptions = {}): Promise<DecodedPacket> {
  const query = dnsPacket.encode({
    type: 'query',
    id: nextId++,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type, name }],
    additionals:
      o.edns === undefined
        ? []
        : [
            {
              type: 'OPT',
              name: '.',
              udpPayloadSize: o.edns,
              extendedRcode: 0,
              ednsVersion: 0,
              flags: o.dnssecOk ? dnsPacket.DNSSEC_OK : 0,
              flag_do: o.dnssecOk ?? false,
              options: [],
            },
          ],
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no reply in 2 s')), 2000);
    const done = (buf: Buffer, close: () => void) => {
      clearTimeout(timer);
      close();
      resolve(dnsPacket.decode(buf));
    };
    if (o.transport === 'tcp') {
      const socket = net.connect(server.port, '127.0.0.1', () => {
        const frame = Buffer.alloc(2 + query.length);
        frame.writeUInt16BE(query.length, 0);
        query.copy(frame, 2);
        socket.write(frame);
      });
      let got = Buffer.alloc(0);
      socket.on('data', (chunk) => {
        got = Buffer.concat([got, chunk]);
        if (got.length >= 2 && got.length >= 2 + got.readUInt16BE(0))
          done(got.subarray(2, 2 + got.readUInt16BE(0)), () => socket.destroy());
      });
      socket.on('error', reject);
    } else {
      const socket = dgram.createSocket('udp4');
      socket.on('message', (msg) => done(msg, () => socket.close()));
      socket.send(query, server.port, '127.0.0.1');
    }
  });
}

const rcodeOf = (p: DecodedPacket) => (p as DecodedPacket & { rcode: string }).rcode;

test('answers A, MX and TXT from the zone with the authoritative bit', async (t) => {
  const server = await startDnsServer(t, zone);
  const a = await ask(server, 'example.com', 'A');
  assert.equal(rcodeOf(a), 'NOERROR');
  assert.equal(a.flag_aa, true);
  assert.deepEqual(
    a.answers?.map((r) => r.type === 'A' && r.data),
    ['127.0.0.1'],
  );
  const mx = await ask(server, 'EXAMPLE.com.', 'MX');
  assert.deepEqual(
    mx.answers?.map((r) => r.type === 'MX' && r.data),
    [{ preference: 10, exchange: 'mx.example.com' }],
  );
  const txt = await ask(server, 'example.com', 'TXT');
  assert.deepEqual(
    txt.answers?.map((r) => r.type === 'TXT' && r.data.toString()),
    ['v=spf1 -all'],
  );
});

test('answers NXDOMAIN with an SOA for a name absent from the zone', async (t) => {
  const server = await startDnsServer(t, zone, { negativeTtl: 42 });
  const reply = await ask(server, 'missing.example.com', 'A');
  assert.equal(rcodeOf(reply), 'NXDOMAIN');
  assert.equal(reply.answers?.length, 0);
  const soa = reply.authorities?.[0];
  assert.equal(soa?.type === 'SOA' && soa.data.minimum, 42);
});

test('answers NODATA for a name that has other types only', async (t) => {
  const server = await startDnsServer(t, zone, { negativeTtl: 42 });
  const reply = await ask(server, 'mx.example.com', 'TXT');
  assert.equal(rcodeOf(reply), 'NOERROR');
  assert.equal(reply.answers?.length, 0);
  assert.equal(reply.authorities?.[0]?.type, 'SOA');
});

test('answers NODATA for an empty non-terminal', async (t) => {
  const server = await startDnsServer(t, zone);
  const reply = await ask(server, 'deep.example.com', 'A');
  assert.equal(rcodeOf(reply), 'NOERROR');
  assert.equal(reply.answers?.length, 0);
});

test('follows a CNAME inside the zone and returns the whole chain', async (t) => {
  const server = await startDnsServer(t, zone);
  const reply = await ask(server, 'alias.example.com', 'A');
  assert.deepEqual(
    reply.answers?.map((r) => [r.name, r.type, 'data' in r ? r.data : undefined]),
    [
      ['alias.example.com', 'CNAME', 'example.com'],
      ['example.com', 'A', '127.0.0.1'],
    ],
  );
});

test('splits a 600-byte TXT into 255-byte strings, truncates it over plain UDP and sends it whole over TCP', async (t) => {
  const long = 'x'.repeat(600);
  const server = await startDnsServer(t, { 'big.example.com': { TXT: [long] } });
  const udp = await ask(server, 'big.example.com', 'TXT');
  assert.equal(udp.flag_tc, true);
  assert.equal(udp.answers?.length, 0);
  const tcp = await ask(server, 'big.example.com', 'TXT', { transport: 'tcp' });
  assert.equal(tcp.flag_tc, false);
  const record = tcp.answers?.[0];
  assert.ok(record?.type === 'TXT' && Array.isArray(record.data));
  const strings = record.data as Buffer[];
  assert.deepEqual(
    strings.map((s) => s.length),
    [255, 255, 90],
  );
  assert.equal(Buffer.concat(strings).toString(), long);
});

test('sends a 600-byte TXT over UDP when the client advertises a larger EDNS payload', async (t) => {
  const server = await startDnsServer(t, { 'big.example.com': { TXT: ['y'.repeat(600)] } });
  const reply = await ask(server, 'big.example.com', 'TXT', { edns: 1232 });
  assert.equal(reply.flag_tc, false);
  assert.equal(reply.answers?.length, 1);
});

test('answers SERVFAIL for the names it is told to', async (t) => {
  const server = await startDnsServer(t, zone, { servfail: ['mx.example.com'] });
  assert.equal(rcodeOf(await ask(server, 'mx.example.com', 'A')), 'SERVFAIL');
  assert.equal(rcodeOf(await ask(server, 'example.com', 'A')), 'NOERROR');
});

test('delays answers for a chosen name only', async (t) => {
  const server = await startDnsServer(t, zone, { delayMs: { 'mx.example.com': 150 } });
  let started = performance.now();
  await ask(server, 'example.com', 'A');
  assert.ok(performance.now() - started < 140);
  started = performance.now();
  await ask(server, 'mx.example.com', 'A');
  assert.ok(performance.now() - started >= 140);
});

test('sets AD for listed names only, and only when the query asks for DNSSEC data', async (t) => {
  const server = await startDnsServer(t, zone, { authenticated: ['mx.example.com'] });
  assert.equal((await ask(server, 'mx.example.com', 'A', { edns: 1232, dnssecOk: true })).flag_ad, true);
  assert.equal((await ask(server, 'mx.example.com', 'A')).flag_ad, false);
  assert.equal((await ask(server, 'example.com', 'A', { edns: 1232, dnssecOk: true })).flag_ad, false);
});

test('logs every query with its transport and DO bit', async (t) => {
  const server = await startDnsServer(t, zone);
  await ask(server, 'Example.com', 'MX', { edns: 1232, dnssecOk: true });
  await ask(server, 'mx.example.com', 'AAAA', { transport: 'tcp' });
  assert.deepEqual(server.queries, [
    { name: 'example.com', type: 'MX', transport: 'udp', dnssecOk: true },
    { name: 'mx.example.com', type: 'AAAA', transport: 'tcp', dnssecOk: false },
  ]);
});

test('answers from the new zone after setZone', async (t) => {
  const server = await startDnsServer(t, zone);
  server.setZone({ ...server.zone, 'example.com': { A: ['192.0.2.7'] } });
  const reply = await ask(server, 'example.com', 'A');
  assert.deepEqual(
    reply.answers?.map((r) => r.type === 'A' && r.data),
    ['192.0.2.7'],
  );
  assert.equal(rcodeOf(await ask(server, 'example.com', 'MX')), 'NOERROR');
});

test('stops listening on both transports when closed', async () => {
  const server = await startDnsServerRaw(zone);
  assert.match(server.address, /^127\.0\.0\.1:\d+$/);
  await server.close();
  await assert.rejects(
    new Promise((resolve, reject) => {
      const socket = net.connect(server.port, '127.0.0.1', () => resolve(socket.destroy()));
      socket.on('error', reject);
    }),
    /ECONNREFUSED/,
  );
});
