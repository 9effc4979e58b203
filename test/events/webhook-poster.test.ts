import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createPoster } from '../../src/events/webhooks/poster.js';
import { startWebhookReceiver } from '../support/webhook-receiver.js';

test('the poster refuses a host name that resolves to loopback, at connect time, unless private targets are allowed', async (t) => {
  const receiver = await startWebhookReceiver(t);
  const port = new URL(receiver.url).port;
  const guarded = createPoster({ timeoutMs: 2000, allowPrivateTargets: false });
  t.after(() => guarded.close());
  const refused = await guarded.post(`http://localhost:${port}/hooks`, {}, '{}');
  assert.equal(refused.ok, false);
  assert.equal(refused.status, null);
  assert.match(refused.error ?? '', /not a public address/);
  const literal = await guarded.post(`http://127.0.0.1:${port}/hooks`, {}, '{}');
  assert.match(literal.error ?? '', /not a public address/);
  assert.equal(receiver.received.length, 0, 'nothing reached the loopback receiver');

  const open = createPoster({ timeoutMs: 2000, allowPrivateTargets: true });
  t.after(() => open.close());
  const ok = await open.post(`http://localhost:${port}/hooks`, {}, '{}');
  assert.equal(ok.ok, true);
  assert.equal(ok.status, 200);
  assert.equal(ok.excerpt, 'ok');
});

test('the poster keeps at most 1 KB of the answer and reports non-2xx as a failure with the status', async (t) => {
  const receiver = await startWebhookReceiver(t);
  receiver.answer = () => 404;
  const poster = createPoster({ timeoutMs: 2000, allowPrivateTargets: true });
  t.after(() => poster.close());
  const r = await poster.post(receiver.url, {}, '{}');
  assert.deepEqual([r.ok, r.status, r.error, r.excerpt], [false, 404, 'HTTP 404', 'receiver says no']);
});
