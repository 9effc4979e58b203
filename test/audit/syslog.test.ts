import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { createServer, type Server, type Socket } from 'node:net';
import { type TestContext, test } from 'node:test';
import { type Actor, createAuditForwarder, createAuditLog } from '../../src/audit/index.js';
import type { Store } from '../../src/store/index.js';
import { fakeClock } from '../support/clock.js';
import { openStore } from '../support/dialects.js';

const actor: Actor = { kind: 'cli', id: 'root', tenantId: 'ten_a' };
const RFC5424 =
  /^<109>1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z collector-test postwarden \d+ (\S+) \[postwarden@32473 chain="([^"]+)" seq="(\d+)" id="(adt_\w+)" hash="([0-9a-f]{64})"\] \uFEFF(\{.*\})$/s;

async function appendSome(store: Store, n: number, from = 0): Promise<void> {
  const audit = createAuditLog({ clock: fakeClock() });
  for (let i = 0; i < n; i++) {
    await store.transaction((tx) =>
      audit.append(tx, { actor, action: 'domain.created', resource: { type: 'domain', id: `dom_${from + i}` } }),
    );
  }
}

/** A TCP collector on loopback that splits the stream by RFC 6587 octet counting. */
async function tcpCollector(t: TestContext, port = 0): Promise<{ server: Server; port: number; messages: string[] }> {
  const messages: string[] = [];
  const open = new Set<Socket>();
  const server = createServer((sock) => {
    open.add(sock);
    sock.on('close', () => open.delete(sock));
    let buf = Buffer.alloc(0);
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const sp = buf.indexOf(0x20);
        if (sp < 0) return;
        const len = Number(buf.subarray(0, sp).toString());
        if (buf.length < sp + 1 + len) return;
        messages.push(buf.subarray(sp + 1, sp + 1 + len).toString('utf8'));
        buf = buf.subarray(sp + 1 + len);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  t.after(() => {
    for (const s of open) s.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { server, port: (server.address() as { port: number }).port, messages };
}

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(check(), what);
}

test('forwards each entry over TCP as an octet-counted RFC 5424 message with its chain position', async (t) => {
  const store = await openStore(t, 'sqlite');
  await appendSome(store, 3);
  const c = await tcpCollector(t);
  const fwd = createAuditForwarder({
    store,
    clock: fakeClock(),
    owner: 'n1',
    hostname: 'collector-test',
    target: { host: '127.0.0.1', port: c.port, protocol: 'tcp', appName: 'postwarden' },
  });
  t.after(() => fwd.stop());
  assert.equal(await fwd.forwardOnce(), 3);
  await until(() => c.messages.length === 3, 'the collector got three messages');
  const parsed = c.messages.map((m) => m.match(RFC5424));
  assert.ok(parsed.every(Boolean), c.messages[0]);
  assert.deepEqual(
    parsed.map((m) => [m![1], m![2], m![3]]),
    [
      ['domain.created', 'ten_a', '1'],
      ['domain.created', 'ten_a', '2'],
      ['domain.created', 'ten_a', '3'],
    ],
  );
  assert.equal(JSON.parse(parsed[2]![6]!).resource.id, 'dom_2');
  assert.equal(await fwd.forwardOnce(), 0, 'nothing is sent twice');
});

test('forwards over UDP, one message per datagram', async (t) => {
  const store = await openStore(t, 'sqlite');
  await appendSome(store, 2);
  const got: string[] = [];
  const sock = createSocket('udp4');
  sock.on('message', (m) => got.push(m.toString('utf8')));
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => sock.close(() => resolve())));
  const fwd = createAuditForwarder({
    store,
    clock: fakeClock(),
    owner: 'n1',
    hostname: 'collector-test',
    target: { host: '127.0.0.1', port: sock.address().port, protocol: 'udp', appName: 'postwarden' },
  });
  t.after(() => fwd.stop());
  assert.equal(await fwd.forwardOnce(), 2);
  await until(() => got.length === 2, 'the collector got two datagrams');
  assert.deepEqual(
    got.map((m) => m.match(RFC5424)?.[3]),
    ['1', '2'],
  );
});

test('a collector that is down blocks no change, and forwarding resumes from its cursor when it is back', async (t) => {
  const store = await openStore(t, 'sqlite');
  // Find a free port, then leave it closed: the collector is down.
  const probe = await tcpCollector(t);
  const port = probe.port;
  await new Promise<void>((resolve) => probe.server.close(() => resolve()));
  await appendSome(store, 2);
  const fwd = createAuditForwarder({
    store,
    clock: fakeClock(),
    owner: 'n1',
    hostname: 'collector-test',
    target: { host: '127.0.0.1', port, protocol: 'tcp', appName: 'postwarden' },
  });
  t.after(() => fwd.stop());
  await assert.rejects(fwd.forwardOnce(), /ECONNREFUSED/);
  // Changes keep committing while the collector is away.
  await appendSome(store, 1, 2);
  assert.equal((await store.audit.head('ten_a'))?.seq, 3);
  const c = await tcpCollector(t, port);
  assert.equal(await fwd.forwardOnce(), 3);
  await until(() => c.messages.length === 3, 'all three entries arrive once the collector is back');
  assert.deepEqual(
    c.messages.map((m) => m.match(RFC5424)?.[3]),
    ['1', '2', '3'],
  );
});
