import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, type TestContext, test } from 'node:test';
import nodemailer from 'nodemailer';
import type { SpineEvent } from '../../src/core/index.js';
import { fakeClock } from '../support/clock.js';
import { waitUntil } from '../support/delivery-lab.js';
import { startPlatform, type TestPlatform } from '../support/platform.js';

/**
 * The anomaly detectors fed from real traffic (issue #21, Done 3, end to end): failed SMTP AUTH,
 * unknown API keys and refused sign-ins from one address raise `auth-failure-burst`; a key sending
 * from an address it never used raises `key-new-address` from the `client_ip` that every send route
 * now puts on `message.accepted`. Loopback has all of 127.0.0.0/8, so each test is a client address
 * of its own (the client binds to it). One platform for the file, on a fake clock set inside one
 * 5-minute window so a burst never straddles two.
 */
const T0 = Date.UTC(2026, 11, 6, 10, 0, 30);
let p: TestPlatform;
const teardown: (() => unknown)[] = [];

before(async () => {
  // One platform for every test of the file, stopped after the last one.
  const root = { after: (fn: () => unknown) => teardown.push(fn) } as unknown as TestContext;
  p = await startPlatform(root, {
    clock: fakeClock(T0),
    config: { compliance: { authFailureFlushMs: 20, pollMs: 50 } },
  });
});

after(async () => {
  for (const fn of teardown.reverse()) await fn();
});

/** An HTTP request from `localAddress` (a loopback address of the test's own). */
function httpFrom(
  localAddress: string,
  method: string,
  path: string,
  opts: { key?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: any }> {
  const url = new URL(p.url + path);
  const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method,
        localAddress,
        headers: {
          ...(opts.key ? { authorization: `Bearer ${opts.key}` } : {}),
          ...(payload ? { 'content-type': 'application/json' } : {}),
          ...opts.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : null });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** An SMTP submission client from `localAddress`, authenticating with `pass`. */
function mailerFrom(t: TestContext, localAddress: string, pass: string) {
  const m = nodemailer.createTransport({
    host: '127.0.0.1',
    port: p.smtpPort,
    secure: false,
    requireTLS: true,
    localAddress,
    auth: { user: 'anyone', pass },
    tls: { rejectUnauthorized: false },
    connectionTimeout: 5000,
    greetingTimeout: 5000,
    socketTimeout: 5000,
  });
  t.after(() => m.close());
  return m;
}

const events = async (): Promise<SpineEvent[]> => p.platform.store.events.page({ after: 0, limit: 5000 });
const alertsOf = async (kind: string, match: (subject: Record<string, unknown>) => boolean) =>
  (await events()).filter((e) => e.type === 'compliance.alert' && e.data.kind === kind && match(e.data.subject as Record<string, unknown>));
const burstFrom = (address: string) => alertsOf('auth-failure-burst', (s) => s.address === address);

test('ten failed SMTP AUTH attempts from one address raise auth-failure-burst', async (t) => {
  const mailer = mailerFrom(t, '127.0.0.6', 'pw_not-a-key');
  for (let i = 0; i < 10; i++) {
    await assert.rejects(mailer.verify(), (e: { responseCode?: number }) => e.responseCode === 535);
  }
  await waitUntil('the burst alert', async () => (await burstFrom('127.0.0.6')).length > 0, 5000);
  const [alert, ...more] = await burstFrom('127.0.0.6');
  assert.equal(more.length, 0, 'raised once for the window');
  assert.equal(alert!.tenantId, 'platform');
  assert.equal(alert!.data.rule, 'auth-failure-burst');
  assert.equal(alert!.data.value, 10);
  assert.equal((alert!.data.subject as { via: string }).via, 'smtp-auth');
});

test('ten unknown API keys over HTTP from one address raise auth-failure-burst', async () => {
  for (let i = 0; i < 10; i++) {
    const res = await httpFrom('127.0.0.7', 'GET', '/v1/messages', { key: `pw_guess${i}` });
    assert.equal(res.status, 401);
  }
  await waitUntil('the burst alert', async () => (await burstFrom('127.0.0.7')).length > 0, 5000);
  const [alert] = await burstFrom('127.0.0.7');
  assert.equal((alert!.data.subject as { via: string }).via, 'api-key');
  assert.equal(alert!.data.severity, 'critical');
});

test('ten refused password sign-ins from one address raise auth-failure-burst, throttled ones included', async () => {
  const statuses = [];
  for (let i = 0; i < 10; i++) {
    const res = await httpFrom('127.0.0.9', 'POST', '/v1/auth/login', {
      body: { email: 'nobody@example.com', password: 'wrong-password' },
    });
    statuses.push(res.status);
  }
  // The login throttle still refuses after 5 failures (access.login.backoffAfter): it protects the node.
  assert.deepEqual([...new Set(statuses)].sort(), [401, 429]);
  await waitUntil('the burst alert', async () => (await burstFrom('127.0.0.9')).length > 0, 5000);
});

test('three failures from one address raise nothing', async (t) => {
  const mailer = mailerFrom(t, '127.0.0.8', 'pw_not-a-key');
  for (let i = 0; i < 3; i++) await assert.rejects(mailer.verify());
  for (let i = 0; i < 3; i++) assert.equal((await httpFrom('127.0.0.10', 'GET', '/v1/messages', { key: 'pw_guess' })).status, 401);
  await p.platform.compliance.authFailures!.flush();
  assert.deepEqual(await burstFrom('127.0.0.8'), []);
  assert.deepEqual(await burstFrom('127.0.0.10'), []);
});

const send = (to: string) => ({ from: 'sender@example.com', to, subject: 'hi', text: 'hello' });

/** The message.accepted events of these message ids. */
async function acceptedOf(ids: string[]): Promise<SpineEvent[]> {
  const all = await events();
  return ids.map((id) => {
    const e = all.find((x) => x.type === 'message.accepted' && x.messageId === id);
    assert.ok(e, `message.accepted of ${id}`);
    return e;
  });
}

test('every HTTP send route puts the client address and key on message.accepted', async () => {
  const ids: string[] = [];
  const one = await httpFrom('127.0.0.11', 'POST', '/v1/messages', { key: p.key, body: send('a@dest.test') });
  assert.equal(one.status, 202, JSON.stringify(one.body));
  ids.push(one.body.id);
  const batch = await httpFrom('127.0.0.11', 'POST', '/v1/messages/batch', {
    key: p.key,
    body: { messages: [send('b@dest.test'), send('c@dest.test')] },
  });
  assert.equal(batch.status, 202, JSON.stringify(batch.body));
  for (const r of batch.body.messages) ids.push(r.id);
  const resend = await httpFrom('127.0.0.11', 'POST', '/compat/resend/emails', { key: p.key, body: send('d@dest.test') });
  assert.equal(resend.status, 200, JSON.stringify(resend.body));
  ids.push(resend.body.id);
  const postmark = await httpFrom('127.0.0.11', 'POST', '/compat/postmark/email', {
    headers: { 'x-postmark-server-token': p.key },
    body: { From: 'sender@example.com', To: 'e@dest.test', Subject: 'hi', TextBody: 'hello' },
  });
  assert.equal(postmark.status, 200, JSON.stringify(postmark.body));
  ids.push(postmark.body.MessageID);
  const accepted = await acceptedOf(ids);
  assert.equal(accepted.length, 5);
  for (const e of accepted) {
    assert.equal(e.data.client_ip, '127.0.0.11', JSON.stringify(e.data));
    assert.match(String(e.data.api_key), /^key_/);
  }
});

/** Waits until the compliance consumer has positioned itself (it starts at the end of the spine). */
async function consumerRunning(): Promise<void> {
  await waitUntil(
    'the compliance consumer',
    async () => (await p.platform.store.consumerCursors.get('compliance-alerts')) !== undefined,
    5000,
  );
}

const newAddressOf = (key: string) => alertsOf('key-new-address', (s) => s.key === key);

test('a key that sent from 127.0.0.1 and then sends from 127.0.0.5 raises key-new-address', async () => {
  await consumerRunning();
  const { key, secret } = await p.platform.tenants.createKey({ tenantId: p.tenantId, scopes: ['send'] });
  const first = await httpFrom('127.0.0.1', 'POST', '/v1/messages', { key: secret, body: send('f@dest.test') });
  assert.equal(first.status, 202);
  const again = await httpFrom('127.0.0.1', 'POST', '/v1/messages', { key: secret, body: send('g@dest.test') });
  assert.equal(again.status, 202);
  const moved = await httpFrom('127.0.0.5', 'POST', '/v1/messages', { key: secret, body: send('h@dest.test') });
  assert.equal(moved.status, 202);
  await waitUntil('the new-address alert', async () => (await newAddressOf(key.id)).length > 0, 5000);
  const alerts = await newAddressOf(key.id);
  assert.equal(alerts.length, 1, 'the first address and a repeat of it raise nothing');
  assert.deepEqual(alerts[0]!.data.subject, { key: key.id, client_ip: '127.0.0.5', message_id: moved.body.id });
  assert.equal(alerts[0]!.tenantId, p.tenantId);
});

test('a key that sent over HTTP and then submits over SMTP from another address raises key-new-address', async (t) => {
  await consumerRunning();
  const { key, secret } = await p.platform.tenants.createKey({ tenantId: p.tenantId, scopes: ['send'] });
  assert.equal((await httpFrom('127.0.0.1', 'POST', '/v1/messages', { key: secret, body: send('i@dest.test') })).status, 202);
  const info = await mailerFrom(t, '127.0.0.5', secret).sendMail(send('j@dest.test'));
  const id = /queued as (msg_\S+)/.exec(info.response)?.[1];
  assert.ok(id, info.response);
  const [accepted] = await acceptedOf([id]);
  assert.equal(accepted!.data.source, 'smtp');
  assert.equal(accepted!.data.client_ip, '127.0.0.5');
  assert.equal(accepted!.data.api_key, key.id);
  await waitUntil('the new-address alert', async () => (await newAddressOf(key.id)).length > 0, 5000);
});
