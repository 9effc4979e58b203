import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type TestContext, test } from 'node:test';
import { Postwarden, PostwardenApiError, type PostwardenEvent, verifyWebhook, WebhookVerificationError } from '../../sdk/src/index.js';
import { startFaultProxy } from '../support/http-fault-proxy.js';
import { startPlatform } from '../support/platform.js';

/**
 * The SDK's webhooks methods against the platform's real /v1/webhooks routes, with a receiver that
 * verifies what the platform signs using the SDK's verifyWebhook: the two ends of the contract
 * checked against each other (test/sdk/webhook-verifier.test.ts checks it against standardwebhooks).
 */
interface Delivery {
  webhookId: string;
  body: PostwardenEvent;
  /** Which of the receiver's secret sets verified it, by name. */
  verifiedWith: string[];
}

async function startReceiver(t: TestContext) {
  const secretSets = new Map<string, string[]>();
  const deliveries: Delivery[] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks);
    const verifiedWith: string[] = [];
    let body: PostwardenEvent | undefined;
    for (const [name, secrets] of secretSets) {
      try {
        body = await verifyWebhook(raw, req.headers as IncomingHttpHeaders, secrets);
        verifiedWith.push(name);
      } catch (e) {
        if (!(e instanceof WebhookVerificationError)) throw e;
      }
    }
    if (!body) return res.writeHead(400).end('not verified');
    deliveries.push({ webhookId: String(req.headers['webhook-id']), body, verifiedWith });
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`, secretSets, deliveries };
}

async function until(what: string, ok: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (await ok()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.fail(`timed out waiting until ${what}`);
}

test('webhook endpoints are managed through the SDK, and what the platform signs verifies with the SDK, across a rotation', async (t) => {
  const receiver = await startReceiver(t);
  const p = await startPlatform(t, { config: { webhooks: { allowPrivateTargets: true, pollMs: 20 } } });
  const proxy = await startFaultProxy(t, p.url, () => 'forward');
  const pw = new Postwarden({ apiKey: p.key, baseUrl: proxy.url });

  const created = await pw.webhooks.create({ url: receiver.url, events: ['message.accepted'], description: 'CRM' });
  assert.match(created.id, /^wh_/);
  assert.match(created.secret, /^whsec_[A-Za-z0-9+/]+=*$/);
  assert.deepEqual([created.url, created.events, created.state, created.batch_size], [receiver.url, ['message.accepted'], 'enabled', 1]);
  assert.ok(proxy.seen[0]!.headers['idempotency-key'], 'a create carries an Idempotency-Key');
  receiver.secretSets.set('first', [created.secret]);

  const listed = await pw.webhooks.list();
  assert.deepEqual(
    listed.data.map((w) => w.id),
    [created.id],
  );
  assert.ok(!JSON.stringify(listed).includes(created.secret), 'the secret is shown only at creation');
  const read = await pw.webhooks.get(created.id);
  assert.deepEqual([read.id, read.description, (read as unknown as Record<string, unknown>).secret], [created.id, 'CRM', undefined]);
  const updated = await pw.webhooks.update(created.id, { description: 'CRM and billing' });
  assert.equal(updated.description, 'CRM and billing');

  const tested = await pw.webhooks.test(created.id);
  assert.deepEqual([tested.outcome, tested.status, tested.response_excerpt], ['succeeded', 200, 'ok']);
  assert.equal(receiver.deliveries.length, 1);
  assert.equal(receiver.deliveries[0]!.body.type, 'webhook.test');
  assert.deepEqual(receiver.deliveries[0]!.verifiedWith, ['first']);

  // A real event, signed by the dispatcher: the SDK's receiver verifies it and gets the event.
  const sent = await pw.messages.send({ from: 'hello@example.com', to: 'ann@example.net', subject: 'Hi', text: 'Hello' });
  await until('message.accepted arrives', () => receiver.deliveries.length >= 2);
  const accepted = receiver.deliveries[1]!;
  assert.deepEqual([accepted.body.type, accepted.body.message_id, accepted.webhookId], ['message.accepted', sent.id, accepted.body.id]);
  assert.deepEqual(accepted.verifiedWith, ['first']);

  await until('both attempts are recorded', async () => (await pw.webhooks.attempts(created.id)).data.length >= 2);
  const newest = await pw.webhooks.attempts(created.id, { limit: 1 });
  assert.deepEqual(newest.data[0]!.event_ids, [accepted.body.id]);
  const older = await pw.webhooks.attempts(created.id, { limit: 1, before: newest.next_cursor! });
  assert.deepEqual([older.data[0]!.id, older.data[0]!.outcome], [tested.id, 'succeeded']);

  // Rotation: the new secret signs, and the previous one too until previous_secret_expires_at.
  const rotated = await pw.webhooks.rotateSecret(created.id);
  assert.notEqual(rotated.secret, created.secret);
  assert.ok(Date.parse(rotated.previous_secret_expires_at!) > Date.now() + 23 * 3_600_000);
  receiver.secretSets.set('second', [rotated.secret]);
  receiver.secretSets.set('both', [rotated.secret, created.secret]);

  const replay = await pw.webhooks.replay(created.id, {
    from: new Date(Date.now() - 60_000).toISOString(),
    to: new Date(Date.now() + 60_000).toISOString(),
  });
  assert.equal(replay.queued, 1);
  await until('the replay arrives', () => receiver.deliveries.length >= 3);
  const replayed = receiver.deliveries[2]!;
  assert.equal(replayed.body.id, accepted.body.id, 'replayed with its original id');
  assert.deepEqual(replayed.verifiedWith, ['first', 'second', 'both'], 'old and new secrets both verify during the grace period');

  const bad = await pw.webhooks.create({ url: 'ftp://hooks.example.net/x' }).catch((e: unknown) => e);
  assert.ok(bad instanceof PostwardenApiError, String(bad));
  assert.deepEqual([bad.status, bad.code], [422, 'VALIDATION_FAILED']);
  assert.deepEqual(
    bad.errors.map((e) => e.path),
    ['/url'],
  );

  await pw.webhooks.delete(created.id);
  const gone = await pw.webhooks.get(created.id).catch((e: unknown) => e);
  assert.ok(gone instanceof PostwardenApiError);
  assert.deepEqual([gone.status, gone.code], [404, 'NOT_FOUND']);
  assert.deepEqual((await pw.webhooks.list()).data, []);
});
