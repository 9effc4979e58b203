import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { type TestContext, test } from 'node:test';
import { createHttpsGetter, type HttpsGetResult } from '../../src/posture/index.js';
import { createTestCa } from '../support/certs.js';
import { createZoneResolver } from '../transport-policy/zone-resolver.js';

/**
 * The BIMI asset fetch settles on every path: a complete body, a connection cut mid-body, and a
 * server that trickles bytes (never idle long enough for a socket timeout) all answer within the
 * one overall deadline, so a hostile or broken host cannot hang the posture monitor.
 */
const TIMEOUT_MS = 500;
const ca = createTestCa('Posture https-get CA');
const cert = ca.issue({ hostnames: ['bimi.slow.example'] });

async function serve(t: TestContext, respond: (req: IncomingMessage, res: ServerResponse) => void) {
  const server = https.createServer({ cert: cert.chain, key: cert.key }, respond);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const port = (server.address() as AddressInfo).port;
  return createHttpsGetter({ ca: ca.cert, portMap: () => ({ host: '127.0.0.1', port }), timeoutMs: TIMEOUT_MS, maxBytes: 1024 });
}

async function timed(p: Promise<HttpsGetResult>): Promise<{ result: HttpsGetResult; ms: number }> {
  const start = performance.now();
  const result = await p;
  return { result, ms: performance.now() - start };
}

test('a complete body is returned', async (t) => {
  const get = await serve(t, (_req, res) => res.writeHead(200, { 'content-type': 'image/svg+xml' }).end('<svg/>'));
  const r = await get('https://bimi.slow.example/logo.svg');
  assert.equal(r.ok, true);
  assert.ok(r.ok && r.body.toString() === '<svg/>' && r.contentType === 'image/svg+xml');
});

test('a body over the size limit fails', async (t) => {
  const get = await serve(t, (_req, res) => res.writeHead(200).end(Buffer.alloc(4096, 1)));
  const r = await get('https://bimi.slow.example/logo.svg');
  assert.deepEqual(r, { ok: false, message: 'body larger than 1024 bytes', status: 200 });
});

test('headers and part of the body, then the connection is destroyed: settles with a failure', async (t) => {
  const get = await serve(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'image/svg+xml', 'content-length': '1000' });
    res.write('<svg', () => setTimeout(() => res.socket?.destroy(), 20));
  });
  const { result, ms } = await timed(get('https://bimi.slow.example/logo.svg'));
  assert.equal(result.ok, false);
  assert.match(!result.ok ? result.message : '', /before the body was complete/);
  assert.ok(ms < TIMEOUT_MS, `settled after ${ms} ms, not on the close`);
});

test('a server trickling bytes faster than an idle timeout is cut off at the deadline', async (t) => {
  const timers = new Set<NodeJS.Timeout>();
  t.after(() => {
    for (const timer of timers) clearInterval(timer);
  });
  const get = await serve(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'image/svg+xml', 'content-length': '1000' });
    const timer = setInterval(() => {
      if (res.destroyed || res.socket?.destroyed) clearInterval(timer);
      else res.write('x');
    }, 50);
    timers.add(timer);
  });
  const { result, ms } = await timed(get('https://bimi.slow.example/logo.svg'));
  assert.deepEqual(result, { ok: false, message: `no complete answer within ${TIMEOUT_MS} ms` });
  assert.ok(ms >= TIMEOUT_MS - 50 && ms < TIMEOUT_MS + 1000, `settled after ${ms} ms`);
});

test('a server that accepts and never answers is cut off at the deadline', async (t) => {
  const get = await serve(t, () => {});
  const { result, ms } = await timed(get('https://bimi.slow.example/logo.svg'));
  assert.deepEqual(result, { ok: false, message: `no complete answer within ${TIMEOUT_MS} ms` });
  assert.ok(ms < TIMEOUT_MS + 1000, `settled after ${ms} ms`);
});

test('a URL whose host resolves to a private or link-local address is refused without connecting (SSRF)', async () => {
  const resolver = createZoneResolver({ 'logo.evil.example': { A: ['169.254.169.254'] }, 'intra.evil.example': { A: ['10.0.0.5'] } });
  const get = createHttpsGetter({ ca: ca.cert, resolver, timeoutMs: TIMEOUT_MS });
  for (const host of ['logo.evil.example', 'intra.evil.example']) {
    const result = await get(`https://${host}/logo.svg`);
    assert.equal(result.ok, false, host);
    assert.match(result.ok ? '' : result.message, /not a public address/);
  }
});
