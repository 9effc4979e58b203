import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { Postwarden, PostwardenApiError } from '../../sdk/src/index.js';
import { startFaultProxy } from '../support/http-fault-proxy.js';
import { startPlatform } from '../support/platform.js';

/**
 * The SDK's webhooks methods against the platform's real /v1/webhooks routes. The routes come from
 * the webhooks work (src/api/routes/webhooks.ts); until it is merged this test skips, saying so.
 */
const routesExist = existsSync(resolve(import.meta.dirname, '../../src/api/routes/webhooks.ts'));
const awaiting = routesExist ? false : 'awaits src/api/routes/webhooks.ts (branch feat/webhooks)';

test('webhook endpoints are created, listed, read, updated, rotated, tested, replayed and deleted through the SDK', {
  skip: awaiting,
}, async (t) => {
  const p = await startPlatform(t);
  const proxy = await startFaultProxy(t, p.url, () => 'forward');
  const pw = new Postwarden({ apiKey: p.key, baseUrl: proxy.url });

  const created = await pw.webhooks.create({
    url: 'https://hooks.example.net/postwarden',
    events: ['recipient.bounced', 'recipient.delivered'],
    description: 'CRM',
  });
  assert.match(created.id, /\S/);
  assert.match(created.secret, /^whsec_[A-Za-z0-9+/]+=*$/);
  assert.equal(created.url, 'https://hooks.example.net/postwarden');
  assert.deepEqual(created.events, ['recipient.bounced', 'recipient.delivered']);
  assert.ok(proxy.seen[0]!.headers['idempotency-key'], 'a create carries an Idempotency-Key');

  const listed = await pw.webhooks.list();
  assert.deepEqual(
    listed.data.map((w) => w.id),
    [created.id],
  );
  assert.equal((listed.data[0] as Record<string, unknown>).secret, undefined, 'the secret is shown only at creation');

  const read = await pw.webhooks.get(created.id);
  assert.deepEqual([read.id, read.url, read.description], [created.id, created.url, 'CRM']);

  const updated = await pw.webhooks.update(created.id, { description: 'CRM and billing', events: ['recipient.bounced'] });
  assert.deepEqual([updated.description, updated.events], ['CRM and billing', ['recipient.bounced']]);

  const rotated = await pw.webhooks.rotateSecret(created.id);
  assert.match(rotated.secret, /^whsec_/);
  assert.notEqual(rotated.secret, created.secret);

  const tested = await pw.webhooks.test(created.id);
  assert.equal(typeof tested, 'object');
  const attempts = await pw.webhooks.attempts(created.id);
  assert.ok(Array.isArray(attempts.data));

  const replay = await pw.webhooks.replay(created.id, {
    from: new Date(Date.now() - 3_600_000).toISOString(),
    to: new Date().toISOString(),
  });
  assert.equal(typeof replay, 'object');

  const bad = await pw.webhooks.create({ url: 'not a url' }).catch((e: unknown) => e);
  assert.ok(bad instanceof PostwardenApiError, String(bad));
  assert.equal(bad.status, 422);
  assert.ok(
    bad.errors.some((e) => e.path === '/url'),
    JSON.stringify(bad.errors),
  );

  await pw.webhooks.delete(created.id);
  const gone = await pw.webhooks.get(created.id).catch((e: unknown) => e);
  assert.ok(gone instanceof PostwardenApiError);
  assert.deepEqual([gone.status, gone.code], [404, 'NOT_FOUND']);
  assert.deepEqual((await pw.webhooks.list()).data, []);
});
