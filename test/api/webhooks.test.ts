import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startPlatform } from '../support/platform.js';
import { startWebhookReceiver } from '../support/webhook-receiver.js';

test('webhook endpoints: create shows the secret once, read, update, test, attempts, rotate, replay, delete', async (t) => {
  const receiver = await startWebhookReceiver(t);
  const p = await startPlatform(t, { config: { webhooks: { allowPrivateTargets: true, pollMs: 20 } } });

  const created = await p.request('POST', '/v1/webhooks', { url: receiver.url, events: ['message.accepted'], description: 'crm' });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.match(created.body.secret, /^whsec_[A-Za-z0-9+/=]{40,}$/);
  assert.match(created.body.id, /^wh_/);
  assert.deepEqual(created.body.events, ['message.accepted']);
  assert.equal(created.body.state, 'enabled');
  receiver.secrets.push(created.body.secret);
  const id = created.body.id as string;

  const shown = await p.request('GET', `/v1/webhooks/${id}`);
  assert.equal(shown.status, 200);
  assert.equal(shown.body.secret, undefined, 'the secret is never shown again');
  const listed = await p.request('GET', '/v1/webhooks');
  assert.deepEqual(
    listed.body.data.map((w: { id: string }) => w.id),
    [id],
  );
  assert.ok(!JSON.stringify(listed.body).includes(created.body.secret));

  const patched = await p.request('PATCH', `/v1/webhooks/${id}`, { description: 'crm v2', batch_size: 5 });
  assert.equal(patched.status, 200);
  assert.equal(patched.body.description, 'crm v2');
  assert.equal(patched.body.batch_size, 5);

  const tested = await p.request('POST', `/v1/webhooks/${id}/test`);
  assert.equal(tested.status, 200, JSON.stringify(tested.body));
  assert.equal(tested.body.outcome, 'succeeded');
  assert.equal(tested.body.status, 200);
  assert.equal(receiver.received.length, 1);
  assert.deepEqual(receiver.received[0]!.verifiedBy, [0]);
  assert.equal((receiver.received[0]!.body as { type: string }[])[0]!.type, 'webhook.test');

  // A real event: a send produces message.accepted, the only type this endpoint asked for.
  const sent = await p.request('POST', '/v1/messages', { from: 'a@example.com', to: 'b@example.net', subject: 's', text: 't' });
  assert.equal(sent.status, 202);
  for (let i = 0; i < 200 && receiver.received.length < 2; i++) await new Promise((r) => setTimeout(r, 25));
  assert.equal(receiver.received.length, 2);
  const accepted = (receiver.received[1]!.body as { id: string; type: string; message_id: string }[])[0]!;
  assert.equal(accepted.type, 'message.accepted');
  assert.equal(accepted.message_id, sent.body.id);

  // The attempt is recorded in the settle that follows the receiver's answer.
  for (let i = 0; i < 200 && (await p.request('GET', `/v1/webhooks/${id}/attempts`)).body.data.length < 2; i++)
    await new Promise((r) => setTimeout(r, 25));
  const attempts = await p.request('GET', `/v1/webhooks/${id}/attempts?limit=1`);
  assert.equal(attempts.status, 200);
  assert.equal(attempts.body.data.length, 1);
  assert.equal(attempts.body.data[0].outcome, 'succeeded');
  assert.equal(attempts.body.data[0].response_excerpt, 'ok');
  const older = await p.request('GET', `/v1/webhooks/${id}/attempts?limit=1&before=${attempts.body.next_cursor}`);
  assert.equal(older.body.data[0].event_ids.length, 1);
  assert.notEqual(older.body.data[0].id, attempts.body.data[0].id);

  const rotated = await p.request('POST', `/v1/webhooks/${id}/rotate-secret`);
  assert.equal(rotated.status, 200);
  assert.notEqual(rotated.body.secret, created.body.secret);
  assert.ok(Date.parse(rotated.body.previous_secret_expires_at) > Date.now() + 23 * 3_600_000);
  receiver.secrets.push(rotated.body.secret);

  const replay = await p.request('POST', `/v1/webhooks/${id}/replay`, {
    from: new Date(Date.now() - 60_000).toISOString(),
    to: new Date(Date.now() + 60_000).toISOString(),
  });
  assert.equal(replay.status, 202, JSON.stringify(replay.body));
  assert.equal(replay.body.queued, 1);
  for (let i = 0; i < 200 && receiver.received.length < 3; i++) await new Promise((r) => setTimeout(r, 25));
  assert.equal(receiver.received[2]!.webhookId.startsWith('batch_'), true);
  assert.deepEqual(receiver.received[2]!.verifiedBy, [0, 1], 'both secrets sign during the grace period');
  assert.equal((receiver.received[2]!.body as { id: string }[])[0]!.id, accepted.id);

  const badReplay = await p.request('POST', `/v1/webhooks/${id}/replay`, { from: 'yesterday', to: '5' });
  assert.equal(badReplay.status, 422);
  assert.equal(badReplay.body.errors[0].path, '/from');

  const deleted = await p.request('DELETE', `/v1/webhooks/${id}`);
  assert.equal(deleted.status, 204);
  assert.equal((await p.request('GET', `/v1/webhooks/${id}`)).status, 404);

  const spec = (await p.request('GET', '/openapi.json')).body;
  assert.ok(spec.paths['/v1/webhooks/{id}/replay'].post.responses['202']);
});

test('endpoint URLs must be public addresses unless webhooks.allowPrivateTargets is on', async (t) => {
  const p = await startPlatform(t);
  for (const url of [
    'http://127.0.0.1:8080/x',
    'http://10.1.2.3/x',
    'http://[::1]/x',
    'http://localhost/x',
    'http://localhost./x',
    'ftp://example.com/x',
  ]) {
    const r = await p.request('POST', '/v1/webhooks', { url });
    assert.equal(r.status, 422, url);
    assert.equal(r.body.errors[0].path, '/url');
  }
  const unknownType = await p.request('POST', '/v1/webhooks', { url: 'https://hooks.example.com/x', events: ['recipient.exploded'] });
  assert.equal(unknownType.status, 422);
});
