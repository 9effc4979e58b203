import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import type { TestContext } from 'node:test';
import { test } from 'node:test';
import { startPlatform, type TestPlatform } from '../support/platform.js';

/**
 * Input meant to hurt the HTTP edge (issue 13, findings 5 and 7): each is answered with a
 * problem+json that names the problem, never a 500, a silent repair, or unbounded memory.
 */
const send = (over: Record<string, unknown> = {}) => ({
  from: 'Sender <hello@example.com>',
  to: 'Ann <ann@example.net>',
  subject: 'Hi',
  text: 'Hello',
  ...over,
});

/** Writes raw bytes to the API port and resolves with the status line, headers and body Node sent back. */
function rawHttp(t: TestContext, p: TestPlatform, bytes: string): Promise<{ status: number; headers: string; body: string }> {
  const socket = connect(Number(new URL(p.url).port), '127.0.0.1');
  t.after(() => {
    socket.destroy();
  });
  return new Promise((resolve, reject) => {
    let text = '';
    socket.on('data', (d: Buffer) => {
      text += d.toString('utf8');
    });
    socket.on('error', reject);
    socket.on('close', () => {
      const [head = '', body = ''] = text.split('\r\n\r\n');
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]), headers: head, body });
    });
    socket.write(bytes);
  });
}

test('a deeply nested body with an Idempotency-Key is answered 422, as it is without the key', async (t) => {
  const p = await startPlatform(t);
  const depth = 200_000; // JSON.parse reads this; a recursive JSON.stringify overflows the stack
  const body = JSON.stringify(send()).replace(/}$/, `,"metadata":${'['.repeat(depth)}${']'.repeat(depth)}}`);
  for (const headers of [{}, { 'idempotency-key': 'deep-1' }] as Record<string, string>[]) {
    const res = await p.request('POST', '/v1/messages', body, headers);
    assert.equal(res.status, 422, JSON.stringify(headers));
    assert.equal(res.headers.get('content-type'), 'application/problem+json; charset=utf-8');
    assert.deepEqual(
      res.body.errors.map((e: { path: string }) => e.path),
      ['/metadata'],
    );
  }
  // The key was not spent by the failure: a good body with it is sent.
  assert.equal((await p.request('POST', '/v1/messages', send(), { 'idempotency-key': 'deep-1' })).status, 202);
});

test('a control character in an address is refused with its field path, never stripped', async (t) => {
  const p = await startPlatform(t);
  const cases: [unknown, string][] = [
    [send({ to: 'nu\u0000l@example.net' }), '/to'],
    [send({ to: 'Ann <nu\u0000l@example.net>' }), '/to'],
    [send({ to: ['ok@example.net', 'nu\u0000l@example.net'] }), '/to/1'],
    [send({ cc: { email: 'nu\u0000l@example.net', name: 'Ann' } }), '/cc/email'],
    [send({ bcc: { email: 'ann@example.net', name: 'A\u0000nn' } }), '/bcc/name'],
    [send({ from: 'hel\u0000lo@example.com' }), '/from'],
    [send({ reply_to: 'a@example.net,\u0000b@example.net' }), '/reply_to'],
  ];
  for (const [body, path] of cases) {
    const res = await p.request('POST', '/v1/messages', body);
    assert.equal(res.status, 422, path);
    const hit = res.body.errors.find((e: { path: string }) => e.path === path);
    assert.ok(hit, `expected ${path}, got ${JSON.stringify(res.body.errors)}`);
    assert.match(hit.message, /control characters/);
  }
  assert.equal((await p.request('GET', '/v1/messages')).body.data.length, 0, 'nothing was sent to nul@example.net');
});

test('an attachment encoding other than base64, or an unknown attachment field, is refused with its path', async (t) => {
  const p = await startPlatform(t);
  const attachment = { filename: 'a.txt', content: 'aGk=' };
  const hex = await p.request('POST', '/v1/messages', send({ attachments: [{ ...attachment, encoding: 'hex' }] }));
  assert.equal(hex.status, 422);
  assert.deepEqual(hex.body.errors, [
    { path: '/attachments/0/encoding', message: 'must be "base64" (the only encoding content may have)' },
  ]);
  const unknown = await p.request('POST', '/v1/messages', send({ attachments: [attachment, { ...attachment, disposition: 'inline' }] }));
  assert.equal(unknown.status, 422);
  assert.deepEqual(unknown.body.errors, [{ path: '/attachments/1/disposition', message: 'is not a known field' }]);
  const ok = await p.request('POST', '/v1/messages', send({ attachments: [{ ...attachment, encoding: 'base64' }] }));
  assert.equal(ok.status, 202);
});

test('headers too large (431) and a request that is not HTTP (400) are answered with problem+json', async (t) => {
  const p = await startPlatform(t);
  const big = await rawHttp(t, p, `GET /v1/tenant HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
  assert.equal(big.status, 431);
  assert.match(big.headers, /content-type: application\/problem\+json/i);
  const problem = JSON.parse(big.body);
  assert.equal(problem.code, 'HEADERS_TOO_LARGE');
  assert.equal(problem.status, 431);
  assert.equal(problem.type, 'urn:postwarden:error:HEADERS_TOO_LARGE');

  const garbage = await rawHttp(t, p, 'HELLO THERE\r\n\r\n');
  assert.equal(garbage.status, 400);
  assert.match(garbage.headers, /content-type: application\/problem\+json/i);
  assert.equal(JSON.parse(garbage.body).code, 'MALFORMED_REQUEST');
});

/** Starts a send whose body never finishes arriving: it holds `bytes` of the budget until destroyed. */
async function stalledUpload(p: TestPlatform, bytes: number, chunked: boolean): Promise<Socket> {
  const socket = connect(Number(new URL(p.url).port), '127.0.0.1');
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  socket.on('error', () => undefined);
  const head = `POST /v1/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${p.key}\r\nContent-Type: application/json\r\n`;
  if (chunked) socket.write(`${head}Transfer-Encoding: chunked\r\n\r\n${bytes.toString(16)}\r\n${'x'.repeat(bytes)}\r\n`);
  else socket.write(`${head}Content-Length: ${bytes + 100}\r\n\r\n{"from":`);
  return socket;
}

async function bytesInFlight(p: TestPlatform): Promise<number> {
  const text = (await p.request('GET', '/metrics')).body as string;
  return Number(/^postwarden_body_bytes_in_flight (\d+)/m.exec(text)?.[1]);
}

test('request bodies in flight are bounded: past the budget 503 problem+json with Retry-After', async (t) => {
  const p = await startPlatform(t, { config: { limits: { maxBodyBytesInFlight: 100_000 } } });
  const padded = send({ text: 'y'.repeat(30_000) });

  // One send alone may be larger than the whole budget.
  assert.equal((await p.request('POST', '/v1/messages', send({ text: 'z'.repeat(150_000) }))).status, 202);

  for (const chunked of [false, true]) {
    const stalled = await stalledUpload(p, 80_000, chunked);
    // Wait until the node holds the stalled upload's bytes (the gauge operators watch says so).
    let held = 0;
    for (let i = 0; i < 200 && held < 80_000; i++) {
      held = await bytesInFlight(p);
      if (held < 80_000) await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok(held >= 80_000, `chunked=${chunked}: ${held} bytes in flight`);
    const res = await p.request('POST', '/v1/messages', padded);
    assert.equal(res.status, 503, `chunked=${chunked}`);
    assert.equal(res.headers.get('content-type'), 'application/problem+json; charset=utf-8');
    assert.equal(res.headers.get('retry-after'), '5');
    assert.equal(res.body.code, 'BODY_BUDGET_EXHAUSTED');
    // Small requests without a body still work meanwhile.
    assert.equal((await p.request('GET', '/v1/tenant')).status, 200);

    stalled.destroy();
    for (let i = 0; i < 200 && held > 0; i++) {
      held = await bytesInFlight(p);
      if (held > 0) await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(held, 0, `chunked=${chunked}: the budget came back when the stalled upload went away`);
    assert.equal((await p.request('POST', '/v1/messages', padded)).status, 202);
  }
});
