import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Postwarden, PostwardenApiError, PostwardenConnectionError, type SendRequest } from '../../sdk/src/index.js';
import { startFaultProxy } from '../support/http-fault-proxy.js';
import { startPlatform } from '../support/platform.js';

/**
 * The SDK against a real platform on loopback. Faults (503, resets, lost answers) come from a proxy
 * in front of it, so what the SDK retries is what the platform really does with a repeated request.
 */
const message = (over: Partial<SendRequest> = {}): SendRequest => ({
  from: 'Sender <hello@example.com>',
  to: 'Ann <ann@example.net>',
  subject: 'Hi',
  text: 'Hello',
  ...over,
});

const storedMessages = async (client: Postwarden) => (await client.messages.list({ limit: 500 })).data;

test('a send answered 503 with Retry-After is retried after the wait with the same Idempotency-Key, and stored once', async (t) => {
  const p = await startPlatform(t);
  const proxy = await startFaultProxy(t, p.url, (n) =>
    n === 1
      ? { status: 503, headers: { 'retry-after': '1' }, body: { code: 'UNAVAILABLE', title: 'Unavailable', status: 503 } }
      : 'forward',
  );
  const client = new Postwarden({ apiKey: p.key, baseUrl: proxy.url });
  const started = Date.now();
  const sent = await client.messages.send(message());
  const elapsed = Date.now() - started;

  assert.equal(sent.status, 'queued');
  assert.match(sent.id, /^msg_/);
  assert.deepEqual(
    proxy.seen.map((r) => [r.method, r.url]),
    [
      ['POST', '/v1/messages'],
      ['POST', '/v1/messages'],
    ],
  );
  const [first, second] = proxy.seen.map((r) => r.headers['idempotency-key']);
  assert.match(String(first), /^[0-9a-f-]{36}$/, 'a key is generated when none is given');
  assert.equal(second, first, 'the retry carries the same key');
  assert.ok(elapsed >= 1000, `Retry-After: 1 is honoured (waited ${elapsed} ms)`);
  const stored = await storedMessages(new Postwarden({ apiKey: p.key, baseUrl: p.url }));
  assert.deepEqual(
    stored.map((m) => m.id),
    [sent.id],
  );
});

test('a send whose answer was lost is retried and replayed by the platform, not sent twice', async (t) => {
  const p = await startPlatform(t);
  const proxy = await startFaultProxy(t, p.url, (n) => (n === 1 ? 'forward-and-withhold' : 'forward'));
  const client = new Postwarden({ apiKey: p.key, baseUrl: proxy.url, timeoutMs: 1000 });
  // The platform commits the first attempt; the proxy keeps its answer, the SDK times out and retries.
  const sent = await client.messages.send(message());
  await proxy.settled();

  // Two attempts, or three when the second came while the first still held its key (409
  // IDEMPOTENCY_IN_PROGRESS, retried) or timed out too on a loaded machine: all with one key.
  assert.ok(proxy.seen.length >= 2);
  assert.equal(new Set(proxy.seen.map((r) => r.headers['idempotency-key'])).size, 1);
  const stored = await storedMessages(new Postwarden({ apiKey: p.key, baseUrl: p.url }));
  assert.deepEqual(
    stored.map((m) => m.id),
    [sent.id],
    'the retry got the first attempt’s message back',
  );
});

test('a connection reset is retried; without an answer after the retries the error says so', async (t) => {
  const p = await startPlatform(t);
  const flaky = await startFaultProxy(t, p.url, (n) => (n === 1 ? 'reset' : 'forward'));
  const sent = await new Postwarden({ apiKey: p.key, baseUrl: flaky.url }).messages.send(message());
  assert.match(sent.id, /^msg_/);
  assert.equal(flaky.seen.length, 2);

  const dead = await startFaultProxy(t, p.url, () => 'reset');
  const err = await new Postwarden({ apiKey: p.key, baseUrl: dead.url, retries: 2 }).messages.send(message()).catch((e: unknown) => e);
  assert.ok(err instanceof PostwardenConnectionError, String(err));
  assert.equal(err.attempts, 3);
  assert.equal(err.timedOut, false);
  assert.equal(dead.seen.length, 3, 'bounded by the retry count');
  assert.equal(new Set(dead.seen.map((r) => r.headers['idempotency-key'])).size, 1);
  assert.equal(err.idempotencyKey, dead.seen[0]!.headers['idempotency-key'], 'the key is handed back for a later retry');
});

test('attempts that all time out end in a timed-out error whose key, used later, gets the stored message', async (t) => {
  const p = await startPlatform(t);
  const proxy = await startFaultProxy(t, p.url, () => 'forward-and-withhold');
  const err = await new Postwarden({ apiKey: p.key, baseUrl: proxy.url, timeoutMs: 300, retries: 1 }).messages
    .send(message())
    .catch((e: unknown) => e);
  await proxy.settled();
  assert.ok(err instanceof PostwardenConnectionError, String(err));
  assert.deepEqual([err.timedOut, err.attempts, proxy.seen.length], [true, 2, 2]);

  const direct = new Postwarden({ apiKey: p.key, baseUrl: p.url });
  const stored = await storedMessages(direct);
  assert.equal(stored.length, 1, 'the platform did the work once');
  const later = await direct.messages.send(message(), { idempotencyKey: err.idempotencyKey! });
  assert.equal(later.id, stored[0]!.id, 'the same key later answers with that message instead of sending again');
});

test('aborting the signal stops a call during its Retry-After wait, without another attempt', async (t) => {
  const p = await startPlatform(t);
  const proxy = await startFaultProxy(t, p.url, () => ({ status: 503, headers: { 'retry-after': '30' } }));
  const controller = new AbortController();
  const started = Date.now();
  const call = new Postwarden({ apiKey: p.key, baseUrl: proxy.url }).messages.send(message(), { signal: controller.signal });
  setTimeout(() => controller.abort(new Error('user gave up')), 200);
  await assert.rejects(call, /user gave up/);
  assert.ok(Date.now() - started < 5000);
  assert.equal(proxy.seen.length, 1);
});

test('the same Idempotency-Key twice stores one message and answers both sends with it', async (t) => {
  const p = await startPlatform(t);
  const client = new Postwarden({ apiKey: p.key, baseUrl: p.url });
  const first = await client.messages.send(message(), { idempotencyKey: 'order-1234' });
  const again = await client.messages.send(message(), { idempotencyKey: 'order-1234' });
  assert.deepEqual(again, first);
  assert.equal((await storedMessages(client)).length, 1);

  // Without a key of the caller's, each call is its own request.
  await client.messages.send(message());
  await client.messages.send(message());
  assert.equal((await storedMessages(client)).length, 3);
});

test('a bad send throws PostwardenApiError with the code and every field path, and is not retried', async (t) => {
  const p = await startPlatform(t);
  const proxy = await startFaultProxy(t, p.url, () => 'forward');
  const client = new Postwarden({ apiKey: p.key, baseUrl: proxy.url });
  const err = await client.messages.send(message({ from: 'not an address', to: ['ann@example.net', 'nobody'] })).catch((e: unknown) => e);
  assert.ok(err instanceof PostwardenApiError, String(err));
  assert.equal(err.status, 422);
  assert.equal(err.code, 'VALIDATION_FAILED');
  assert.ok(err.title.length > 0);
  assert.deepEqual(
    err.errors.map((e) => e.path),
    ['/from', '/to/1'],
  );
  assert.ok(err.errors.every((e) => e.message.length > 0));
  assert.equal(err.attempts, 1);
  assert.equal(proxy.seen.length, 1, 'a 4xx other than 408/429 is never retried');
  assert.match(err.message, /VALIDATION_FAILED/);

  const reused = await client.messages.send(message({ subject: 'Other' }), { idempotencyKey: err.idempotencyKey! });
  assert.match(reused.id, /^msg_/, 'a refused request does not burn its key');

  const conflict = await client.messages
    .send(message({ subject: 'Third' }), { idempotencyKey: err.idempotencyKey! })
    .catch((e: unknown) => e);
  assert.ok(conflict instanceof PostwardenApiError);
  assert.deepEqual([conflict.status, conflict.code, conflict.errors[0]?.path], [422, 'IDEMPOTENCY_CONFLICT', '/headers/idempotency-key']);
});

test('429 is retried; the retries stop at the count, and a Retry-After past the retry window is not waited for', async (t) => {
  const p = await startPlatform(t);
  const limited = { status: 429, headers: { 'retry-after': '0' }, body: { code: 'RATE_LIMITED', title: 'Too many', status: 429 } };
  const always = await startFaultProxy(t, p.url, () => limited);
  const err = await new Postwarden({ apiKey: p.key, baseUrl: always.url, retries: 2 }).messages.send(message()).catch((e: unknown) => e);
  assert.ok(err instanceof PostwardenApiError);
  assert.deepEqual([err.status, err.code, err.attempts, always.seen.length], [429, 'RATE_LIMITED', 3, 3]);

  const later = new Date(Date.now() + 3_600_000).toUTCString();
  const far = await startFaultProxy(t, p.url, () => ({ status: 503, headers: { 'retry-after': later } }));
  const started = Date.now();
  const gaveUp = await new Postwarden({ apiKey: p.key, baseUrl: far.url }).messages.send(message()).catch((e: unknown) => e);
  assert.ok(gaveUp instanceof PostwardenApiError);
  assert.equal(gaveUp.code, 'HTTP_503', 'a body that is not problem+json still gives a typed error');
  assert.ok(gaveUp.retryAfterSeconds! > 3500, 'the wait asked for is reported');
  assert.equal(far.seen.length, 1);
  assert.ok(Date.now() - started < 5000, 'an hour-long Retry-After ends the call rather than blocking it');
});

test('409 IDEMPOTENCY_IN_PROGRESS (the first attempt still running) is retried; 409 CONFLICT is not', async (t) => {
  const p = await startPlatform(t);
  // The platform's answer while the first request with the key runs (see the idempotency plugin).
  const inProgress = { status: 409, headers: { 'retry-after': '0' }, body: { code: 'IDEMPOTENCY_IN_PROGRESS', status: 409 } };
  const proxy = await startFaultProxy(t, p.url, (n) => (n === 1 ? inProgress : 'forward'));
  const sent = await new Postwarden({ apiKey: p.key, baseUrl: proxy.url }).messages.send(message());
  assert.match(sent.id, /^msg_/);
  assert.equal(proxy.seen.length, 2);

  const conflict = await startFaultProxy(t, p.url, () => ({ status: 409, body: { code: 'CONFLICT', status: 409 } }));
  const err = await new Postwarden({ apiKey: p.key, baseUrl: conflict.url }).messages.send(message()).catch((e: unknown) => e);
  assert.ok(err instanceof PostwardenApiError);
  assert.deepEqual([err.code, err.attempts, conflict.seen.length], ['CONFLICT', 1, 1]);
});

test('a batch answers each message; one bad message is reported by path without refusing the others', async (t) => {
  const p = await startPlatform(t);
  const client = new Postwarden({ apiKey: p.key, baseUrl: p.url });
  const batch = await client.messages.sendBatch([message(), message({ to: 'nobody' }), message({ subject: 'Third' })]);
  assert.deepEqual([batch.accepted, batch.rejected], [2, 1]);
  const bad = batch.messages[1]!;
  assert.ok('error' in bad);
  assert.equal(bad.error.code, 'VALIDATION_FAILED');
  assert.deepEqual(
    bad.error.errors?.map((e) => e.path),
    ['/messages/1/to'],
  );

  const none = await client.messages.sendBatch([message({ to: 'nobody' })]);
  assert.deepEqual([none.accepted, none.rejected], [0, 1], 'all refused is a result too (422 with the batch shape)');
});

test('messages.get returns the timeline; an unknown id is a typed 404', async (t) => {
  const p = await startPlatform(t);
  const client = new Postwarden({ apiKey: p.key, baseUrl: p.url });
  const sent = await client.messages.send(message(), { mode: 'sync' });
  assert.equal(sent.status, 'completed');
  const view = await client.messages.get(sent.id);
  assert.equal(view.id, sent.id);
  assert.equal(view.state, 'completed');
  assert.deepEqual(
    view.recipients.map((r) => [r.email, r.state]),
    [['ann@example.net', 'delivered']],
  );
  assert.equal(view.events[0]?.type, 'message.accepted');

  const missing = await client.messages.get('msg_00000000000000000000000000').catch((e: unknown) => e);
  assert.ok(missing instanceof PostwardenApiError);
  assert.deepEqual([missing.status, missing.code], [404, 'NOT_FOUND']);
});

test('events.list pages the spine by cursor to the end, filters by type, and resumes from a held cursor', async (t) => {
  const p = await startPlatform(t);
  const client = new Postwarden({ apiKey: p.key, baseUrl: p.url });
  const proxy = await startFaultProxy(t, p.url, () => 'forward');
  const paged = new Postwarden({ apiKey: p.key, baseUrl: proxy.url });
  // Sync sends: every recipient has its outcome, so the spine stops growing before it is paged.
  for (let i = 0; i < 5; i++)
    assert.equal((await client.messages.send(message({ subject: `n${i}` }), { mode: 'sync' })).status, 'completed');

  const whole = (await client.events.page({ limit: 1000 })).data;
  const accepted = whole.filter((e) => e.type === 'message.accepted');
  assert.equal(accepted.length, 5);

  const seen = [];
  for await (const e of paged.events.list({ limit: 2 })) seen.push(e);
  assert.deepEqual(
    seen.map((e) => e.id),
    whole.map((e) => e.id),
    'every event once, in cursor order',
  );
  assert.equal(proxy.seen.length, Math.floor(whole.length / 2) + 1, 'pages of 2 until a short one');
  assert.match(proxy.seen[1]!.url, new RegExp(`after=${whole[1]!.cursor}&`));

  const onlyAccepted = [];
  for await (const e of client.events.list({ types: ['message.accepted'], limit: 2 })) onlyAccepted.push(e.id);
  assert.deepEqual(
    onlyAccepted,
    accepted.map((e) => e.id),
  );

  const held = accepted[2]!.cursor;
  const rest = [];
  for await (const e of client.events.list({ after: held, types: ['message.accepted'] })) rest.push(e.id);
  assert.deepEqual(
    rest,
    accepted.slice(3).map((e) => e.id),
  );

  const bad = await client.events.page({ types: ['no.such'] }).catch((e: unknown) => e);
  assert.ok(bad instanceof PostwardenApiError);
  assert.deepEqual(
    bad.errors.map((e) => e.path),
    ['/query/type'],
  );
});
