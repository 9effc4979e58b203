import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { startWebhookReceiver } from '../../support/webhook-receiver.js';
import type { Contract } from './harness.js';

/** Webhook endpoints (the platform allows loopback targets: webhooks.allowPrivateTargets). */
export async function driveWebhooks(c: Contract, t: TestContext): Promise<void> {
  const { expect } = c;
  const receiver = await startWebhookReceiver(t);
  const unknown = `wh_${'0'.repeat(26)}`;
  const created = (await expect(201, 'POST', '/v1/webhooks', { body: { url: receiver.url, events: ['recipient.bounced'] } })).json();
  const id = created.id as string;
  const badUrl = await expect(422, 'POST', '/v1/webhooks', { body: { url: 'mailto:ops@example.com' } });
  assert.equal(badUrl.json().errors[0].path, '/url');
  c.input('POST /v1/webhooks', { body: { url: receiver.url } });

  await expect(200, 'GET', '/v1/webhooks');
  await expect(200, 'GET', `/v1/webhooks/${id}`);
  await expect(404, 'GET', `/v1/webhooks/${unknown}`);
  const malformed = await expect(422, 'GET', '/v1/webhooks/wh_1');
  assert.equal(malformed.json().errors[0].path, '/params/id');

  await expect(200, 'PATCH', `/v1/webhooks/${id}`, { body: { description: 'crm' } });
  await expect(404, 'PATCH', `/v1/webhooks/${unknown}`, { body: { description: 'crm' } });
  const batch = await expect(422, 'PATCH', `/v1/webhooks/${id}`, { body: { batch_size: 0 } });
  assert.equal(batch.json().errors[0].path, '/batch_size');

  await expect(200, 'POST', `/v1/webhooks/${id}/rotate-secret`);
  await expect(404, 'POST', `/v1/webhooks/${unknown}/rotate-secret`);
  await expect(422, 'POST', '/v1/webhooks/wh_1/rotate-secret');
  c.input('POST /v1/webhooks/:id/rotate-secret', { params: { id } });

  const tested = await expect(200, 'POST', `/v1/webhooks/${id}/test`);
  assert.equal(tested.json().outcome, 'succeeded');
  await expect(404, 'POST', `/v1/webhooks/${unknown}/test`);
  await expect(422, 'POST', '/v1/webhooks/wh_1/test');
  c.input('POST /v1/webhooks/:id/test', { params: { id } });

  await expect(200, 'GET', `/v1/webhooks/${id}/attempts?limit=5`);
  await expect(404, 'GET', `/v1/webhooks/${unknown}/attempts`);
  const limit = await expect(422, 'GET', `/v1/webhooks/${id}/attempts?limit=0`);
  assert.equal(limit.json().errors[0].path, '/query/limit');

  const window = { from: new Date(Date.now() - 3_600_000).toISOString(), to: new Date(Date.now() + 60_000).toISOString() };
  await expect(202, 'POST', `/v1/webhooks/${id}/replay`, { body: window });
  await expect(404, 'POST', `/v1/webhooks/${unknown}/replay`, { body: window });
  const from = await expect(422, 'POST', `/v1/webhooks/${id}/replay`, { body: { ...window, from: 'yesterday' } });
  assert.equal(from.json().errors[0].path, '/from');
  c.input('POST /v1/webhooks/:id/replay', { params: { id }, body: window });

  await expect(204, 'DELETE', `/v1/webhooks/${id}`);
  await expect(404, 'DELETE', `/v1/webhooks/${id}`);
  await expect(422, 'DELETE', '/v1/webhooks/wh_1');
}
