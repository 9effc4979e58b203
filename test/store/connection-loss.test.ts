import assert from 'node:assert/strict';
import { test } from 'node:test';
import nodemailer from 'nodemailer';
import pg from 'pg';
import { createPostgresSchema, postgresUrl } from '../support/dialects.js';
import { startPlatform, type TestPlatform } from '../support/platform.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';

/**
 * What a PostgreSQL restart, failover or pooler idle-kill does to a node: its backends are
 * terminated (pg_terminate_backend, as a fast shutdown does) and, until the server is back, new
 * connections are refused (a TCP proxy the test cuts). The node must stay up, say so on /healthz,
 * answer 503 problem+json with Retry-After meanwhile, lose nothing it acknowledged, and carry on.
 */
const skip = postgresUrl
  ? false
  : 'PostgreSQL tests skipped: set POSTWARDEN_TEST_DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/test)';
if (skip) console.log(`# ${skip}`);

const send = (i: number) => ({ from: 'Sender <hello@example.com>', to: `r${i}@example.net`, subject: `m${i}`, text: 'Hello' });

async function platformBehindProxy(t: import('node:test').TestContext): Promise<{ p: TestPlatform; proxy: TcpProxy; app: string }> {
  const schema = await createPostgresSchema();
  const direct = new URL(schema.url);
  const proxy = await startTcpProxy({ host: direct.hostname, port: Number(direct.port || 5432) });
  const app = `pw_conn_loss_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const viaProxy = new URL(schema.url);
  viaProxy.hostname = '127.0.0.1';
  viaProxy.port = String(proxy.port);
  viaProxy.searchParams.set('application_name', app);
  const p = await startPlatform(t, { config: { store: { url: viaProxy.toString(), poolSize: 6 } } });
  // Added after startPlatform's own teardown, so these run once the node has stopped.
  t.after(async () => {
    await proxy.close();
    await schema.drop();
  });
  return { p, proxy, app };
}

/** Terminates every backend the node holds, as a server restart would; resolves with how many. */
async function terminateBackends(app: string): Promise<number> {
  const admin = new pg.Client({ connectionString: postgresUrl });
  await admin.connect();
  try {
    const r = await admin.query('select pg_terminate_backend(pid) as t from pg_stat_activity where application_name = $1', [app]);
    return r.rowCount ?? 0;
  } finally {
    await admin.end();
  }
}

async function health(p: TestPlatform): Promise<{ status: number; body: any }> {
  const res = await fetch(`${p.url}/healthz`, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: await res.json() };
}

async function until(what: string, check: () => Promise<boolean>, withinMs: number): Promise<void> {
  const end = Date.now() + withinMs;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`${what} within ${withinMs} ms`);
}

test('terminating the idle node backends does not end the process; the next request works', { skip }, async (t) => {
  const { p, app } = await platformBehindProxy(t);
  assert.equal((await p.request('POST', '/v1/messages', send(0))).status, 202);
  // Let the pool go idle; the delivery loop polls every 20 ms, so some backends are idle, some busy.
  await new Promise((r) => setTimeout(r, 100));
  assert.ok((await terminateBackends(app)) > 0, 'the node had backends to terminate');
  await new Promise((r) => setTimeout(r, 200));
  const after = await p.request('POST', '/v1/messages', send(1));
  assert.ok([202, 503].includes(after.status), `got ${after.status}`);
  await until('a send is accepted again', async () => (await p.request('POST', '/v1/messages', send(2))).status === 202, 5000);
  assert.deepEqual(await health(p), { status: 200, body: { status: 'ok' } });
});

test('submission answers 451 4.3.0 while the database is away, and accepts again once it is back', { skip }, async (t) => {
  const { p, proxy, app } = await platformBehindProxy(t);
  const mail = () =>
    nodemailer
      .createTransport({
        host: '127.0.0.1',
        port: p.smtpPort,
        secure: false,
        requireTLS: true,
        auth: { user: 'app', pass: p.key },
        tls: { rejectUnauthorized: false },
        connectionTimeout: 5000,
        socketTimeout: 10_000,
      })
      .sendMail({ from: 'hello@example.com', to: 'ann@example.net', subject: 'Hi', text: 'Hello' });
  proxy.cut();
  await terminateBackends(app);
  await assert.rejects(mail(), (e: { responseCode?: number; response?: string }) => {
    assert.equal(e.responseCode, 451, e.response);
    assert.match(e.response ?? '', /^451 4\.3\.0 /);
    return true;
  });
  proxy.restore();
  await until(
    'submission accepts again',
    () =>
      mail().then(
        (info) => /^250 /.test(info.response),
        () => false,
      ),
    10_000,
  );
});

test('losing PostgreSQL under 20 senders: the node stays up, healthz degraded then ok, 503 + Retry-After meanwhile, every 202 stored', {
  skip,
  timeout: 60_000,
}, async (t) => {
  const { p, proxy, app } = await platformBehindProxy(t);
  const answers: { status: number; type: string | null; retryAfter: string | null; body: any; at: number }[] = [];
  let sending = true;
  let n = 0;
  const clients = Array.from({ length: 20 }, async () => {
    // Bounded in time (the flag) and in count (never more than 2,000 requests in all).
    while (sending && n < 2000) {
      const i = n++;
      const res = await fetch(`${p.url}/v1/messages`, {
        method: 'POST',
        headers: { authorization: `Bearer ${p.key}`, 'content-type': 'application/json' },
        body: JSON.stringify(send(i)),
        signal: AbortSignal.timeout(15_000),
      });
      answers.push({
        status: res.status,
        type: res.headers.get('content-type'),
        retryAfter: res.headers.get('retry-after'),
        body: await res.json(),
        at: Date.now(),
      });
    }
  });

  await new Promise((r) => setTimeout(r, 300));
  assert.ok((await terminateBackends(app)) > 0, 'the node had backends to terminate under load');
  // The server is now "restarting": no connection gets through until restore().
  proxy.cut();
  await terminateBackends(app);
  const outageFrom = Date.now();
  await until(
    'healthz reports degraded',
    async () => {
      const h = await health(p);
      return h.status === 503 && h.body.status === 'degraded' && h.body.unreachable.includes('store');
    },
    8000,
  );
  // Keep the database away long enough for the senders to meet it.
  await new Promise((r) => setTimeout(r, 700));
  proxy.restore();
  const restoredAt = Date.now();
  await until('healthz reports ok', async () => (await health(p)).status === 200, 10_000);
  await until('a sender is answered 202 again', async () => answers.some((a) => a.at > restoredAt && a.status === 202), 10_000);
  sending = false;
  await Promise.all(clients);

  const statuses = new Map<number, number>();
  for (const a of answers) statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
  assert.deepEqual(
    [...statuses.keys()].filter((s) => s !== 202 && s !== 503),
    [],
    `only 202 or 503: ${JSON.stringify([...statuses])}`,
  );
  const refused = answers.filter((a) => a.status === 503);
  assert.ok(refused.length > 0, 'some requests met the outage');
  assert.ok(
    refused.some((a) => a.at > outageFrom),
    'requests during the outage were answered, not left hanging',
  );
  for (const a of refused) {
    assert.equal(a.type, 'application/problem+json; charset=utf-8');
    assert.equal(a.body.code, 'STORE_UNAVAILABLE');
    assert.equal(a.body.status, 503);
    assert.ok(Number(a.retryAfter) > 0, `Retry-After: ${a.retryAfter}`);
  }
  const accepted = answers.filter((a) => a.status === 202).map((a) => a.body.id as string);
  assert.ok(accepted.length > 20, `${accepted.length} accepted`);
  const stored = await p.platform.store.messages.getMany(accepted);
  assert.equal(stored.length, accepted.length, 'every 202 message is stored');

  // The delivery loop survived: a message accepted after the outage is delivered (sandbox).
  const last = await p.request('POST', '/v1/messages', send(99_999));
  assert.equal(last.status, 202);
  await until(
    'the last message is delivered',
    async () => (await p.request('GET', `/v1/messages/${last.body.id}`)).body.state === 'completed',
    10_000,
  );
});
