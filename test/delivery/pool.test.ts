import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { systemClock } from '../../src/core/index.js';
import { createPool, type Lease, type OpenOutcome, type Pool } from '../../src/delivery/pool.js';
import { openSession, type SessionResult, type SmtpSession } from '../../src/delivery/session.js';
import { fakeClock } from '../support/clock.js';
import { type SmtpSink, startSmtpSink } from '../support/smtp-sink.js';

const RAW = Buffer.from('From: a@example.test\r\nSubject: pool\r\n\r\nHi.\r\n');
const TIMEOUTS = { connectMs: 2000, greetingMs: 2000, commandMs: 2000, dataBlockMs: 2000, dataMs: 2000 };

function sinkPool(t: TestContext, sink: SmtpSink, o: { maxConnections?: number; maxMessagesPerConnection?: number; idleMs?: number } = {}) {
  const pool = createPool<SessionResult>({
    open: () =>
      openSession({
        host: 'mx.example.test',
        address: '127.0.0.1',
        port: sink.port,
        ehloName: 'out.example.test',
        tls: { mode: 'opportunistic', servername: 'mx.example.test' },
        timeouts: TIMEOUTS,
      }),
    maxConnections: o.maxConnections ?? 2,
    maxMessagesPerConnection: o.maxMessagesPerConnection ?? 100,
    idleMs: o.idleMs ?? 60_000,
    clock: systemClock,
  });
  t.after(() => pool.drain({ graceMs: 100 }));
  return pool;
}

async function lease<R extends OpenOutcome>(pool: Pool<R>, key = 'site'): Promise<Lease<Extract<R, { ok: true }>['session']>> {
  const l = await pool.acquire(key);
  assert.ok(l.ok, l.ok ? '' : l.reason);
  return l;
}

async function deliver(pool: Pool<SessionResult>, to: string): Promise<Lease<SmtpSession>> {
  const l = await lease(pool);
  const r = await l.session.send({ from: 's@example.test', to: [to], raw: RAW });
  assert.equal(r.perRecipient.get(to)?.code, 250);
  pool.release(l, { reusable: true });
  return l;
}

test('messages to one destination reuse one connection', async (t) => {
  const sink = await startSmtpSink(t);
  const pool = sinkPool(t, sink);
  const leases = [await deliver(pool, 'a@example.test'), await deliver(pool, 'b@example.test'), await deliver(pool, 'c@example.test')];
  assert.deepEqual(
    leases.map((l) => l.reused),
    [false, true, true],
  );
  assert.equal(sink.accepted, 3);
  assert.equal(sink.connections, 1);
  assert.deepEqual(pool.stats('site'), { open: 1, idle: 1, leased: 0, waiting: 0 });
});

test('the messages-per-connection limit forces a new connection', async (t) => {
  const sink = await startSmtpSink(t);
  const pool = sinkPool(t, sink, { maxMessagesPerConnection: 2 });
  for (const to of ['a', 'b', 'c', 'd', 'e']) await deliver(pool, `${to}@example.test`);
  assert.equal(sink.accepted, 5);
  assert.equal(sink.connections, 3);
  assert.equal(pool.stats('site').open, 1, 'the used-up connections were closed');
});

test('at the connection limit a waiter gets the next released session', async (t) => {
  const sink = await startSmtpSink(t);
  const pool = sinkPool(t, sink, { maxConnections: 1 });
  const first = await lease(pool);
  const second = pool.acquire('site');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(pool.stats('site'), { open: 1, idle: 0, leased: 1, waiting: 1 });
  pool.release(first, { reusable: true });
  const got = await second;
  assert.ok(got.ok);
  assert.equal(got.session, first.session);
  assert.equal(got.reused, true);
  assert.equal(sink.connections, 1);
});

test('a session released as not reusable is closed and its slot goes to the next waiter', async (t) => {
  const sink = await startSmtpSink(t);
  const pool = sinkPool(t, sink, { maxConnections: 1 });
  const first = await lease(pool);
  const second = pool.acquire('site');
  pool.release(first, { reusable: false });
  const got = await second;
  assert.ok(got.ok);
  assert.notEqual(got.session, first.session);
  assert.equal(got.reused, false);
  assert.equal(first.session.usable, false);
  assert.equal(sink.connections, 2);
});

test('idle sessions are closed after idleMs by the timer', async (t) => {
  const sink = await startSmtpSink(t);
  const pool = sinkPool(t, sink, { idleMs: 30 });
  const l = await deliver(pool, 'a@example.test');
  assert.equal(pool.stats('site').idle, 1);
  for (let i = 0; i < 50 && pool.stats('site').open > 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(pool.stats('site').open, 0);
  assert.equal(l.session.usable, false);
});

/** A session double: no network, closes on demand. */
function fakeSession() {
  const s = {
    usable: true,
    messagesSent: 0,
    closed: 0,
    async close() {
      s.closed++;
      s.usable = false;
    },
  };
  return s;
}
type Fake = ReturnType<typeof fakeSession>;
type FakeOpen = { ok: true; session: Fake } | { ok: false; error: string };

function fakePool(o: { maxConnections?: number; maxWaitMs?: number; maxWaiting?: number; open?: () => Promise<FakeOpen> } = {}) {
  const clock = fakeClock();
  const opened: Fake[] = [];
  const pool = createPool<FakeOpen>({
    open:
      o.open ??
      (async () => {
        const session = fakeSession();
        opened.push(session);
        return { ok: true, session };
      }),
    maxConnections: o.maxConnections ?? 1,
    maxMessagesPerConnection: 10,
    idleMs: 1000,
    clock,
    ...(o.maxWaitMs !== undefined ? { maxWaitMs: o.maxWaitMs } : {}),
    ...(o.maxWaiting !== undefined ? { maxWaiting: o.maxWaiting } : {}),
  });
  return { pool, clock, opened };
}

test('sweepIdle closes what the injected clock says has been idle for idleMs', async () => {
  const { pool, clock, opened } = fakePool();
  pool.release(await lease(pool), { reusable: true });
  clock.advance(999);
  assert.equal(pool.sweepIdle(), 0);
  clock.advance(1);
  assert.equal(pool.sweepIdle(), 1);
  assert.equal(opened[0]?.closed, 1);
  assert.deepEqual(pool.stats('site'), { open: 0, idle: 0, leased: 0, waiting: 0 });
  assert.deepEqual(pool.keys(), []);
});

test('an idle session that died is not handed out again', async () => {
  const { pool, opened } = fakePool();
  const first = await lease(pool);
  pool.release(first, { reusable: true });
  first.session.usable = false; // the server closed the idle connection
  const next = await lease(pool);
  assert.notEqual(next.session, first.session);
  assert.equal(opened.length, 2);
});

test('a failed open gives its slot back and the next waiter opens', async () => {
  let calls = 0;
  const { pool } = fakePool({
    open: async () => (++calls === 1 ? { ok: false, error: 'ECONNREFUSED' } : { ok: true, session: fakeSession() }),
  });
  const [a, b] = await Promise.all([pool.acquire('site'), pool.acquire('site')]);
  assert.deepEqual(a, { ok: false, reason: 'open-failed', failure: { ok: false, error: 'ECONNREFUSED' } });
  assert.ok(b.ok);
  assert.deepEqual(pool.stats('site'), { open: 1, idle: 0, leased: 1, waiting: 0 });
});

test('a waiter gives up after maxWaitMs and the queue is bounded', async () => {
  const { pool } = fakePool({ maxWaitMs: 30, maxWaiting: 1 });
  await lease(pool);
  const waiting = pool.acquire('site');
  const full = await pool.acquire('site');
  assert.equal(full.ok, false);
  if (!full.ok) assert.equal(full.reason, 'queue-full');
  const timedOut = await waiting;
  assert.equal(timedOut.ok, false);
  if (!timedOut.ok) assert.equal(timedOut.reason, 'wait-timeout');
  assert.equal(pool.stats('site').waiting, 0);
});

test('destinations have separate limits and queues', async () => {
  const { pool } = fakePool();
  await lease(pool, 'slow-site');
  const other = await pool.acquire('fast-site');
  assert.ok(other.ok, 'a full destination does not block another');
  assert.equal(pool.stats('slow-site').open, 1);
  assert.equal(pool.stats('fast-site').open, 1);
});

test('drain refuses waiters, closes idle sessions and closes leased ones when they come back', async () => {
  const { pool, opened } = fakePool();
  pool.release(await lease(pool, 'idle-site'), { reusable: true });
  const held = await lease(pool, 'busy-site');
  const waiter = pool.acquire('busy-site');
  const drained = pool.drain({ graceMs: 5000 });
  const refused = await waiter;
  assert.equal(refused.ok, false);
  if (!refused.ok) assert.equal(refused.reason, 'draining');
  assert.equal((await pool.acquire('new-site')).ok, false);
  assert.deepEqual(
    opened.map((s) => s.closed),
    [1, 0],
    'idle closed at once, the leased one is still in use',
  );
  pool.release(held, { reusable: true });
  await drained;
  assert.deepEqual(
    opened.map((s) => s.closed),
    [1, 1],
  );
});

test('drain closes leases that are not back within the grace period', async () => {
  const { pool, opened } = fakePool();
  await lease(pool);
  await pool.drain({ graceMs: 20 });
  assert.equal(opened[0]?.closed, 1);
});

test('a lease says how long it waited, by the injected clock', async () => {
  const { pool, clock } = fakePool();
  const held = await lease(pool);
  const waiting = pool.acquire('site');
  clock.advance(250);
  pool.release(held, { reusable: true });
  const got = await waiting;
  assert.ok(got.ok);
  assert.equal(got.waitedMs, 250);
  assert.equal(held.waitedMs, 0);
});
