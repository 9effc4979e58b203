import assert from 'node:assert/strict';
import type { Contract } from './harness.js';

/** Sending, reading, changing and dry-running messages; delivery stats and events. */
export async function driveMessages(c: Contract): Promise<void> {
  const { p, expect } = c;
  const { send, sent } = c.fixtures;
  await expect(202, 'POST', '/v1/messages', { body: send });
  await expect(200, 'POST', '/v1/messages?mode=sync&wait_ms=5000', { body: send });
  await expect(422, 'POST', '/v1/messages', { body: { ...send, subject: undefined } });
  await expect(202, 'POST', '/v1/messages/batch', { body: { messages: [send, { ...send, from: 'x' }] } });
  await expect(422, 'POST', '/v1/messages/batch', { body: { messages: [{ ...send, from: 'x' }] } });
  await expect(422, 'POST', '/v1/messages/batch', { body: { messages: 'none' } });
  await expect(200, 'GET', `/v1/messages/${sent.id}`);
  await expect(404, 'GET', '/v1/messages/msg_missing');
  await expect(200, 'GET', '/v1/messages?limit=5');
  await expect(422, 'GET', '/v1/messages?limit=0');
  c.input('POST /v1/messages', { body: send });
  c.input('POST /v1/messages/batch', { body: { messages: [send] } });

  // A tenant allowed one message a minute: the second answers 429 with Retry-After.
  const slow = await p.platform.tenants.createTenant({ name: 'Slow' });
  await p.platform.tenants.updateTenant(slow.id, { ratePerMinute: 1 });
  await p.platform.domains.addDomain(slow.id, 'slow.example');
  const slowKey = (await p.platform.tenants.createKey({ tenantId: slow.id, scopes: ['send'] })).secret;
  const slowSend = { ...send, from: 'shop@slow.example' };
  await expect(202, 'POST', '/v1/messages', { body: slowSend, key: slowKey });
  const limited = await expect(429, 'POST', '/v1/messages', { body: slowSend, key: slowKey });
  assert.match(limited.headers.get('retry-after') ?? '', /^\d+$/);

  await expect(200, 'GET', '/v1/stats/delivery?minutes=5');
  await expect(422, 'GET', '/v1/stats/delivery?minutes=0');
  await expect(200, 'GET', '/v1/events?limit=2');
  await expect(422, 'GET', '/v1/events?after=abc');
  await expect(200, 'GET', '/v1/events/schema', { key: null });
  await expect(200, 'GET', '/v1/events/export?format=ndjson');
  await expect(200, 'GET', '/v1/events/export?format=csv&types=message.accepted');
  await expect(422, 'GET', '/v1/events/export?format=csv&types=nothing.happened');

  // Changes after accept: a send due in an hour can be cancelled; the delivered fixture cannot (409).
  const later = await expect(202, 'POST', '/v1/messages', {
    body: { ...send, send_at: new Date(Date.now() + 3_600_000).toISOString() },
  });
  const laterId = later.json().id as string;
  const cancelled = await expect(200, 'POST', `/v1/messages/${laterId}/cancel`, { body: { reason: 'changed my mind' } });
  assert.equal(cancelled.json().cancelled.length, 1);
  const refused = await expect(409, 'POST', `/v1/messages/${sent.id}/cancel`);
  assert.equal(refused.json().recipients[0].state, 'delivered');
  await expect(404, 'POST', '/v1/messages/msg_01JD4Z9X0000000000000000/cancel', { body: {} });
  const noRecipients = await expect(422, 'POST', `/v1/messages/${laterId}/cancel`, { body: { recipients: [] } });
  assert.equal(noRecipients.json().errors[0].path, '/recipients');
  c.input('POST /v1/messages/:id/cancel', { body: {}, params: { id: laterId } });

  await expect(200, 'PATCH', `/v1/messages/${sent.id}`, { body: { tags: ['paid'], metadata: { order: '7' } } });
  await expect(404, 'PATCH', '/v1/messages/msg_01JD4Z9X0000000000000000', { body: { tags: ['paid'] } });
  const emptyPatch = await expect(422, 'PATCH', `/v1/messages/${sent.id}`, { body: {} });
  assert.ok(emptyPatch.json().errors.length);
  c.input('PATCH /v1/messages/:id', { body: { tags: ['paid'] }, params: { id: sent.id } });

  // The dry run: the send's own checks (422 with the send's paths), nothing stored.
  const dry = await expect(200, 'POST', '/v1/messages/dry-run', { body: { ...send, html: '<p>Thanks</p>' } });
  assert.match(dry.json().mime, /Subject: Receipt/);
  const dryBad = await expect(422, 'POST', '/v1/messages/dry-run', { body: { ...send, to: 'not an address' } });
  assert.match(dryBad.json().errors[0].path, /^\/to/);
  c.input('POST /v1/messages/dry-run', { body: send });
}
