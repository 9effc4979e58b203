import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type TestContext, test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { createPoster, type PostResult } from '../../src/events/webhooks/poster.js';
import { createThreadPoster, spawnPosterWorker, type ThreadPosterOptions } from '../../src/events/webhooks/poster-thread.js';
import type { PosterWorkerData } from '../../src/events/webhooks/poster-worker.js';
import { startWebhookReceiver } from '../support/webhook-receiver.js';
import { receivedEvents, TENANT, webhookHarness } from './webhook-harness.js';

/** A thread poster whose threads the test can see (and kill), closed after the test. */
function threadPoster(t: TestContext, opts: Partial<ThreadPosterOptions> = {}) {
  const workers: Worker[] = [];
  const poster = createThreadPoster({
    timeoutMs: 2000,
    allowPrivateTargets: true,
    spawnWorker: (data: PosterWorkerData) => {
      const w = spawnPosterWorker(data);
      workers.push(w);
      return w;
    },
    ...opts,
  });
  t.after(() => poster.close());
  return { poster, workers };
}

const withoutLatency = (r: PostResult) => ({ ...r, latencyMs: 0 });

async function until(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 25));
  assert.ok(check(), `${what} within 5 s`);
}

test('the thread poster POSTs to a loopback receiver and answers as the in-thread poster does', { timeout: 20_000 }, async (t) => {
  const receiver = await startWebhookReceiver(t);
  const { poster } = threadPoster(t);
  const inline = createPoster({ timeoutMs: 2000, allowPrivateTargets: true });
  t.after(() => inline.close());

  const ok = await poster.post(receiver.url, { 'webhook-id': 'msg_thread_1' }, '{"a":1}');
  assert.deepEqual(withoutLatency(ok), { ok: true, status: 200, latencyMs: 0, excerpt: 'ok', error: null });
  assert.ok(ok.latencyMs >= 0 && ok.latencyMs < 2000);
  assert.deepEqual(
    receiver.received.map((r) => [r.webhookId, r.raw]),
    [['msg_thread_1', '{"a":1}']],
  );

  receiver.answer = () => 404;
  const no = await poster.post(receiver.url, {}, '{}');
  assert.deepEqual(withoutLatency(no), withoutLatency(await inline.post(receiver.url, {}, '{}')));
  assert.deepEqual([no.ok, no.status, no.error, no.excerpt], [false, 404, 'HTTP 404', 'receiver says no']);
});

test('the thread poster keeps the first kilobyte of a long answer', { timeout: 20_000 }, async (t) => {
  const server = createServer((_req, res) => res.end('x'.repeat(1000) + 'y'.repeat(3000)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const { poster } = threadPoster(t);
  const r = await poster.post(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, {}, '{}');
  assert.equal(r.excerpt, 'x'.repeat(1000) + 'y'.repeat(24));
});

test('POSTs beyond the body budget wait their turn, in order, and all arrive', { timeout: 20_000 }, async (t) => {
  const receiver = await startWebhookReceiver(t);
  receiver.delayMs = 300;
  // Room for one 100-character body at a time: three POSTs take three answers' time, not one.
  const { poster } = threadPoster(t, { maxBodyInFlight: 150 });
  await poster.post(receiver.url, {}, '{}'); // the thread is up before the clock starts
  const bodies = [1, 2, 3].map((n) => JSON.stringify({ n, pad: 'x'.repeat(90) }));
  const started = performance.now();
  const results = await Promise.all(bodies.map((b) => poster.post(receiver.url, {}, b)));
  const took = performance.now() - started;
  assert.deepEqual(
    results.map((r) => r.status),
    [200, 200, 200],
  );
  assert.deepEqual(
    receiver.received.slice(1).map((r) => r.raw),
    bodies,
  );
  assert.ok(took >= 850, `one at a time: ${Math.round(took)} ms`);
});

test('the thread poster keeps the SSRF guard: loopback is refused with the in-thread texts', { timeout: 20_000 }, async (t) => {
  const receiver = await startWebhookReceiver(t);
  const port = new URL(receiver.url).port;
  const { poster } = threadPoster(t, { allowPrivateTargets: false });
  const inline = createPoster({ timeoutMs: 2000, allowPrivateTargets: false });
  t.after(() => inline.close());
  for (const url of [`http://localhost:${port}/hooks`, `http://127.0.0.1:${port}/hooks`]) {
    const r = await poster.post(url, {}, '{}');
    assert.equal(r.ok, false);
    assert.match(r.error ?? '', /not a public address/);
    assert.equal(r.error, (await inline.post(url, {}, '{}')).error);
  }
  assert.equal(receiver.received.length, 0, 'nothing reached the loopback receiver');
});

test('the thread poster gives up after timeoutMs with the in-thread text', { timeout: 20_000 }, async (t) => {
  const receiver = await startWebhookReceiver(t);
  receiver.delayMs = 3000;
  const { poster } = threadPoster(t, { timeoutMs: 300 });
  const r = await poster.post(receiver.url, {}, '{}');
  assert.deepEqual([r.ok, r.status, r.error], [false, null, 'no answer within 300 ms']);
  assert.ok(r.latencyMs >= 250 && r.latencyMs < 2000, `latency ${r.latencyMs}`);
});

test('a POST in flight when the thread dies fails, and the next POST runs on a new thread', { timeout: 20_000 }, async (t) => {
  const receiver = await startWebhookReceiver(t);
  receiver.delayMs = 3000;
  const { poster, workers } = threadPoster(t);
  const inFlight = poster.post(receiver.url, {}, '{"n":1}');
  await until('the receiver sees the POST', () => receiver.received.length === 1);
  await workers[0]!.terminate();
  const lost = await inFlight;
  assert.equal(lost.ok, false);
  assert.match(lost.error ?? '', /^webhook POST thread exited with code 1/);

  receiver.delayMs = 0;
  const next = await poster.post(receiver.url, {}, '{"n":2}');
  assert.deepEqual([next.ok, next.status], [true, 200]);
  assert.equal(workers.length, 2, 'a second thread answered');
});

/** A thread that says it is ready, then takes requests and never answers. */
const WEDGED = "const { parentPort } = require('node:worker_threads'); parentPort.on('message', () => {}); parentPort.postMessage([]);";

test('a thread that holds a POST past the deadline is replaced', { timeout: 20_000 }, async (t) => {
  const receiver = await startWebhookReceiver(t);
  let spawned = 0;
  const poster = createThreadPoster({
    timeoutMs: 100,
    allowPrivateTargets: true,
    // The first thread is wedged; the second is the real one.
    spawnWorker: (data) => (spawned++ === 0 ? new Worker(WEDGED, { eval: true }) : spawnPosterWorker(data)),
  });
  t.after(() => poster.close());
  const stuck = await poster.post(receiver.url, {}, '{}');
  assert.equal(stuck.ok, false);
  assert.match(stuck.error ?? '', /no answer from the thread within 1200 ms/);
  const next = await poster.post(receiver.url, {}, '{}');
  assert.deepEqual([next.ok, spawned], [true, 2]);
});

test('closing the thread poster fails what is in flight and every later POST', { timeout: 20_000 }, async (t) => {
  const receiver = await startWebhookReceiver(t);
  receiver.delayMs = 3000;
  const { poster, workers } = threadPoster(t);
  const inFlight = poster.post(receiver.url, {}, '{}');
  await until('the receiver sees the POST', () => receiver.received.length === 1);
  const exited = new Promise((resolve) => workers[0]!.once('exit', resolve));
  await poster.close();
  assert.equal((await inFlight).error, 'webhook poster closed');
  assert.equal((await poster.post(receiver.url, {}, '{}')).error, 'webhook poster closed');
  await exited;
});

test('the thread holds the process open while a POST is in flight, and not once idle', { timeout: 40_000 }, async (t) => {
  const receiver = await startWebhookReceiver(t);
  receiver.delayMs = 300;
  // A process that awaits one POST at top level and never closes the poster: were the thread unref'd
  // while busy it would exit early with code 13 (unsettled await); were it ref'd while idle, never.
  const poster = new URL('../../src/events/webhooks/poster-thread.ts', import.meta.url).href;
  const script = `const { createThreadPoster } = await import(${JSON.stringify(poster)});
    const p = createThreadPoster({ timeoutMs: 5000, allowPrivateTargets: true });
    console.log(JSON.stringify(await p.post(${JSON.stringify(receiver.url)}, {}, '{}')));`;
  const { code, stdout } = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
    const child = execFile(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { timeout: 30_000 }, (err, out) =>
      resolve({ code: err ? (child.exitCode ?? -1) : 0, stdout: out }),
    );
  });
  assert.equal(code, 0, 'the process exited by itself');
  const r = JSON.parse(stdout) as PostResult;
  assert.deepEqual([r.ok, r.status, r.excerpt, r.error], [true, 200, 'ok', null]);
});

test('a POST thread killed mid-delivery loses no event: what it held goes again with the same webhook-id', {
  timeout: 60_000,
}, async (t) => {
  const { poster, workers } = threadPoster(t, { timeoutMs: 5000 });
  const h = await webhookHarness(t, 'sqlite', {}, { poster });
  const { secret } = await h.webhooks.endpoints.create(TENANT, { url: h.receiver.url });
  h.receiver.secrets.push(secret);
  h.receiver.delayMs = 500;
  await h.appendMessages(20);
  const all = (await h.store.events.page({ limit: 1000 })).map((e) => e.id);
  const pumping = h.pump();
  await until('POSTs in flight', () => h.receiver.received.length > 0);
  await workers[0]!.terminate();
  await pumping;
  h.receiver.delayMs = 0;
  for (let i = 0; i < 50 && new Set(receivedEvents(h.receiver).map((e) => e.id)).size < all.length; i++) {
    h.clock.advance(60_000);
    await h.pump();
  }
  assert.deepEqual(new Set(receivedEvents(h.receiver).map((e) => e.id)), new Set(all), 'every event arrived');
  const ids = h.receiver.received.map((r) => r.webhookId);
  assert.ok(ids.length > new Set(ids).size, 'the POSTs cut off by the kill were sent again');
  assert.ok(h.receiver.received.every((r) => r.webhookId === (r.body as { id: string }).id && r.verifiedBy.includes(0)));
  assert.ok(workers.length >= 2, 'a new thread took over');
});
