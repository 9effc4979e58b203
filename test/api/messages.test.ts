import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fakeClock } from '../support/clock.js';
import { startPlatform } from '../support/platform.js';

const send = (over: Record<string, unknown> = {}) => ({
  from: 'Sender <hello@example.com>',
  to: 'Ann <ann@example.net>',
  subject: 'Hi',
  text: 'Hello',
  ...over,
});

test('a send is queued with 202 and ids, then delivered to the sandbox with a full timeline', async (t) => {
  const p = await startPlatform(t);
  const res = await p.request('POST', '/v1/messages', send({ cc: ['b@example.org', { email: 'c@example.org', name: 'C' }] }));
  assert.equal(res.status, 202);
  assert.match(res.body.id, /^msg_[0-9A-Z]{26}$/);
  assert.equal(res.body.recipients.length, 3);
  let view: any;
  for (let i = 0; i < 200; i++) {
    view = (await p.request('GET', `/v1/messages/${res.body.id}`)).body;
    if (view.state === 'completed') break;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.equal(view.state, 'completed');
  assert.deepEqual(
    view.recipients.map((r: any) => r.state),
    ['delivered', 'delivered', 'delivered'],
  );
  const types = view.events.map((e: any) => e.type);
  assert.equal(types[0], 'message.accepted');
  assert.equal(types.filter((x: string) => x === 'recipient.queued').length, 3);
  assert.equal(types.filter((x: string) => x === 'recipient.delivered').length, 3);
  assert.deepEqual(
    view.events.map((e: any) => e.seq),
    view.events.map((_: unknown, i: number) => i + 1),
  );
  const captured = await p.request('GET', '/v1/sandbox/messages');
  assert.equal(captured.body.data.length, 3);
  const one = await p.request('GET', `/v1/sandbox/messages/${captured.body.data[0].id}`);
  assert.match(one.body.raw, /Subject: Hi/);
  assert.doesNotMatch(one.body.raw, /^Bcc:/m);
});

test('sync mode waits for the first outcome of every recipient', async (t) => {
  const p = await startPlatform(t);
  const res = await p.request('POST', '/v1/messages?mode=sync', send({ bcc: 'hidden@example.org' }));
  assert.equal(res.status, 200);
  assert.equal(res.body.status, 'completed');
  assert.deepEqual(res.body.recipients.map((r: any) => [r.email, r.state]).sort(), [
    ['ann@example.net', 'delivered'],
    ['hidden@example.org', 'delivered'],
  ]);
  assert.equal(res.body.recipients[0].last_reply.code, 250);
});

test('an Idempotency-Key replays the first answer and sends nothing twice', async (t) => {
  const p = await startPlatform(t);
  const headers = { 'idempotency-key': 'order-1234' };
  const first = await p.request('POST', '/v1/messages', send(), headers);
  const again = await p.request('POST', '/v1/messages', send(), headers);
  assert.equal(first.status, 202);
  assert.equal(again.status, 202);
  assert.deepEqual(again.body, first.body);
  assert.equal(again.headers.get('idempotent-replayed'), 'true');
  const list = await p.request('GET', '/v1/messages');
  assert.equal(list.body.data.length, 1, 'only one message was stored');
});

test('an Idempotency-Key left in progress by a request that never settled it is taken over after limits.idempotencyTakeoverSeconds', async (t) => {
  const clock = fakeClock();
  const p = await startPlatform(t, { clock, config: { limits: { idempotencyTakeoverSeconds: 120 } } });
  const repo = p.platform.store.idempotency;
  // The node loses its database (or dies) after the message committed, before the key is settled.
  const complete = repo.complete;
  repo.complete = async () => {
    repo.complete = complete;
    throw new Error('Connection terminated unexpectedly');
  };
  const headers = { 'idempotency-key': 'order-crash' };
  const first = await p.request('POST', '/v1/messages', send(), headers);
  assert.equal(first.status, 202, 'the committed message is still answered');

  const retry = await p.request('POST', '/v1/messages', send(), headers);
  assert.equal(retry.status, 409);
  assert.equal(retry.body.code, 'IDEMPOTENCY_IN_PROGRESS');
  assert.equal(retry.headers.get('retry-after'), '1');

  clock.advance(120_000);
  const takenOver = await p.request('POST', '/v1/messages', send(), headers);
  assert.equal(takenOver.status, 202, 'after the takeover time the request runs again');
  assert.notEqual(takenOver.body.id, first.body.id);
  const replay = await p.request('POST', '/v1/messages', send(), headers);
  assert.deepEqual([replay.status, replay.body, replay.headers.get('idempotent-replayed')], [202, takenOver.body, 'true']);
});

test('an Idempotency-Key reused with another body is refused and says so', async (t) => {
  const p = await startPlatform(t);
  const headers = { 'idempotency-key': 'order-5678' };
  await p.request('POST', '/v1/messages', send(), headers);
  const other = await p.request('POST', '/v1/messages', send({ subject: 'Different' }), headers);
  assert.equal(other.status, 422);
  assert.equal(other.body.code, 'IDEMPOTENCY_CONFLICT');
  assert.equal(other.headers.get('content-type'), 'application/problem+json; charset=utf-8');
  assert.deepEqual(other.body.errors, [{ path: '/headers/idempotency-key', message: 'was already used with a different body' }]);
});

test('a request that failed does not burn its Idempotency-Key', async (t) => {
  const p = await startPlatform(t);
  const headers = { 'idempotency-key': 'retry-me' };
  const bad = await p.request('POST', '/v1/messages', send({ from: 'x@not-ours.example' }), headers);
  assert.equal(bad.status, 422);
  const fixed = await p.request('POST', '/v1/messages', send({ from: 'x@not-ours.example' }), headers);
  assert.equal(fixed.status, 422, 'the same failing body fails again rather than replaying');
});

test('bad input is answered with problem+json naming each field by its JSON path', async (t) => {
  const p = await startPlatform(t);
  const cases: [string, unknown, string, RegExp][] = [
    ['missing from', send({ from: undefined }), '/from', /required/],
    ['from not an address', send({ from: 'not-an-address' }), '/from', /exactly one @/],
    ['bad recipient in a list', send({ to: ['ok@example.net', 'bad@@x'] }), '/to/1', /./],
    ['recipient object without email', send({ to: { name: 'No email' } }), '/to/email', /required/],
    ['no recipients at all', send({ to: undefined }), '/to', /at least one recipient/],
    ['subject with a line break', send({ subject: 'a\r\nBcc: evil@x.com' }), '/subject', /line breaks/],
    ['no body', send({ text: undefined }), '/text', /text or html/],
    ['reserved header', send({ headers: { From: 'x@y.com' } }), '/headers/From', /set by the platform/],
    ['invalid header name', send({ headers: { 'Bad Header': 'x' } }), '/headers/Bad Header', /valid header name/],
    ['attachment not base64', send({ attachments: [{ filename: 'a.txt', content: '***' }] }), '/attachments/0/content', /base64/],
    ['attachment without filename', send({ attachments: [{ content: 'aGk=' }] }), '/attachments/0/filename', /required/],
    ['unknown stream', send({ stream: 'bulk' }), '/stream', /transactional, marketing, cold/],
    ['metadata value not a string', send({ metadata: { order: 42 } }), '/metadata/order', /string/],
    ['tag with spaces', send({ tags: ['a b'] }), '/tags/0', /letters/],
    ['unknown field', send({ priority: 'high' }), '/priority', /not a known field/],
    ['domain not registered', send({ from: 'a@other.example' }), '/from', /not registered/],
    ['local part too long', send({ to: `${'x'.repeat(65)}@example.net` }), '/to', /64 octets/],
  ];
  for (const [name, body, path, message] of cases) {
    const res = await p.request('POST', '/v1/messages', body);
    assert.equal(res.status, 422, name);
    assert.equal(res.headers.get('content-type'), 'application/problem+json; charset=utf-8', name);
    const hit = res.body.errors?.find((e: any) => e.path === path);
    assert.ok(hit, `${name}: expected an error at ${path}, got ${JSON.stringify(res.body.errors)}`);
    assert.match(hit.message, message, name);
  }
  const list = await p.request('GET', '/v1/messages');
  assert.equal(list.body.data.length, 0, 'nothing bad was stored');
});

test('malformed JSON, wrong content type and missing keys get clear problems', async (t) => {
  const p = await startPlatform(t);
  const bad = await p.request('POST', '/v1/messages', '{"from": ');
  assert.equal(bad.status, 400);
  assert.equal(bad.body.code, 'MALFORMED_REQUEST');
  const text = await p.request('POST', '/v1/messages', 'hello', { 'content-type': 'text/plain' });
  assert.equal(text.status, 415);
  const anon = await fetch(`${p.url}/v1/messages`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
  assert.equal(anon.status, 401);
  assert.equal(((await anon.json()) as any).code, 'UNAUTHENTICATED');
  const wrong = await p.request('GET', '/v1/messages', undefined, { authorization: 'Bearer pw_nope' });
  assert.equal(wrong.status, 401);
});

test('a key without the send scope cannot send', async (t) => {
  const p = await startPlatform(t);
  const { secret } = await p.platform.tenants.createKey({ tenantId: p.tenantId, scopes: ['read'] });
  const res = await p.request('POST', '/v1/messages', send(), { authorization: `Bearer ${secret}` });
  assert.equal(res.status, 403);
  assert.equal(res.body.code, 'FORBIDDEN');
});

test('an oversized message is refused with 413 and nothing is stored', async (t) => {
  const p = await startPlatform(t);
  await p.platform.tenants.updateTenant(p.tenantId, { maxMessageBytes: 4096 });
  const res = await p.request('POST', '/v1/messages', send({ text: 'x'.repeat(10_000) }));
  assert.equal(res.status, 413);
  assert.equal(res.body.code, 'MESSAGE_TOO_LARGE');
  assert.equal(res.body.limit, 4096);
  assert.equal((await p.request('GET', '/v1/messages')).body.data.length, 0);
});

test('the tenant rate limit answers 429 with Retry-After', async (t) => {
  const p = await startPlatform(t);
  await p.platform.tenants.updateTenant(p.tenantId, { ratePerMinute: 2 });
  assert.equal((await p.request('POST', '/v1/messages', send())).status, 202);
  assert.equal((await p.request('POST', '/v1/messages', send())).status, 202);
  const limited = await p.request('POST', '/v1/messages', send());
  assert.equal(limited.status, 429);
  assert.equal(limited.body.code, 'RATE_LIMITED');
  assert.ok(Number(limited.headers.get('retry-after')) >= 1);
});

test('a suppressed recipient is never queued and the answer says why', async (t) => {
  const p = await startPlatform(t);
  await p.platform.store.suppressions.add({
    id: 'sup_1',
    tenantId: p.tenantId,
    scope: 'tenant',
    domain: null,
    stream: null,
    address: 'gone@example.net',
    reason: 'hard_bounce',
    source: 'evt_x',
    createdAt: Date.UTC(2026, 0, 1),
  });
  const res = await p.request('POST', '/v1/messages?mode=sync', send({ to: ['gone@example.net', 'ok@example.net'] }));
  const gone = res.body.recipients.find((r: any) => r.email === 'gone@example.net');
  assert.equal(gone.state, 'suppressed');
  const view = await p.request('GET', `/v1/messages/${res.body.id}`);
  const ev = view.body.events.find((e: any) => e.type === 'recipient.suppressed');
  assert.equal(ev.data.reason, 'hard_bounce');
  assert.equal(view.body.events.filter((e: any) => e.type === 'recipient.delivered').length, 1);
});

test('a batch accepts the good messages and reports the bad ones by path', async (t) => {
  const p = await startPlatform(t);
  const res = await p.request('POST', '/v1/messages/batch', { messages: [send(), send({ to: 'bad' }), send({ subject: 'third' })] });
  assert.equal(res.status, 202);
  assert.equal(res.body.accepted, 2);
  assert.equal(res.body.rejected, 1);
  assert.equal(res.body.messages[1].error.code, 'VALIDATION_FAILED');
  assert.equal(res.body.messages[1].error.errors[0].path, '/messages/1/to');
  const tooMany = await p.request('POST', '/v1/messages/batch', { messages: Array.from({ length: 501 }, () => send()) });
  assert.equal(tooMany.status, 422);
});

test('events page in cursor order and filter by type', async (t) => {
  const p = await startPlatform(t);
  for (let i = 0; i < 3; i++) await p.request('POST', '/v1/messages?mode=sync', send());
  const all: any[] = [];
  let after: string | undefined;
  for (let i = 0; i < 20; i++) {
    const page = await p.request('GET', `/v1/events?limit=2${after ? `&after=${after}` : ''}`);
    assert.equal(page.status, 200);
    all.push(...page.body.data);
    if (!page.body.data.length) break;
    after = page.body.next_cursor;
  }
  assert.equal(all.length, 9);
  assert.deepEqual(
    all.map((e) => Number(e.cursor)),
    [...all.map((e) => Number(e.cursor))].sort((a, b) => a - b),
  );
  const delivered = await p.request('GET', '/v1/events?type=recipient.delivered');
  assert.equal(delivered.body.data.length, 3);
  const bad = await p.request('GET', '/v1/events?type=nope');
  assert.equal(bad.status, 422);
  assert.equal(bad.body.errors[0].path, '/query/type');
});

test('domains are tenant-scoped and the OpenAPI document lists the routes', async (t) => {
  const p = await startPlatform(t);
  const created = await p.request('POST', '/v1/domains', { name: 'News.Example.ORG' });
  assert.equal(created.status, 201);
  assert.equal(created.body.name, 'news.example.org');
  const dup = await p.request('POST', '/v1/domains', { name: 'news.example.org' });
  assert.equal(dup.status, 409);
  const invalid = await p.request('POST', '/v1/domains', { name: 'not a domain' });
  assert.equal(invalid.status, 422);
  assert.equal(invalid.body.errors[0].path, '/name');
  const openapi = await fetch(`${p.url}/openapi.json`).then((r) => r.json() as Promise<any>);
  assert.ok(openapi.paths['/v1/messages'].post);
  assert.ok(openapi.paths['/v1/events'].get);
  assert.equal((await fetch(`${p.url}/healthz`)).status, 200);
});

test('delivery stats count accepted messages and outcomes per minute, every minute present', async (t) => {
  const p = await startPlatform(t);
  for (let i = 0; i < 3; i++) await p.request('POST', '/v1/messages?mode=sync', send({ to: ['a@example.net', 'b@example.net'] }));
  const res = await p.request('GET', '/v1/stats/delivery?minutes=5');
  assert.equal(res.status, 200);
  assert.equal(res.body.data.length, 5);
  const totals = res.body.data.reduce(
    (acc: any, b: any) => ({ accepted: acc.accepted + b.accepted, delivered: acc.delivered + b.delivered }),
    { accepted: 0, delivered: 0 },
  );
  assert.deepEqual(totals, { accepted: 3, delivered: 6 });
  assert.ok(
    res.body.data.every((b: any, i: number, all: any[]) => i === 0 || Date.parse(b.minute) - Date.parse(all[i - 1].minute) === 60_000),
  );
  assert.equal((await p.request('GET', '/v1/stats/delivery?minutes=0')).status, 422);
});
