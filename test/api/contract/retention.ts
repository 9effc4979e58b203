import assert from 'node:assert/strict';
import type { Contract } from './harness.js';

/** Retention policies, legal holds and erasure (docs/retention.md). */
export async function driveRetention(c: Contract): Promise<void> {
  await c.expect(200, 'GET', '/v1/retention');
  await c.expect(200, 'PUT', '/v1/retention', { body: { policies: [{ data_class: 'bodies', max_days: 14, min_days: null }] } });
  const conflict = await c.expect(422, 'PUT', '/v1/retention', {
    body: { policies: [{ data_class: 'metadata', max_days: 30, min_days: 365 }] },
  });
  assert.equal(conflict.json().errors[0].path, '/body/policies/0');

  const hold = (
    await c.expect(201, 'POST', '/v1/legal-holds', { body: { kind: 'address', address: 'held@example.org', reason: 'Litigation 17' } })
  ).json();
  c.input('POST /v1/legal-holds', { body: { kind: 'tenant', reason: 'Audit 2026' } });
  await c.expect(404, 'POST', '/v1/legal-holds', { body: { kind: 'message', message_id: 'msg_01JD7XWB1S9FQ0M3J8Q1V9Y2KZ', reason: 'x' } });
  await c.expect(422, 'POST', '/v1/legal-holds', { body: { kind: 'message', reason: 'no message id' } });
  await c.expect(200, 'DELETE', `/v1/legal-holds/${hold.id}`);
  await c.expect(404, 'DELETE', `/v1/legal-holds/${hold.id}`);

  const receipt = (await c.expect(201, 'POST', '/v1/erasures', { body: { address: 'gone@example.org' } })).json();
  c.input('POST /v1/erasures', { body: { address: 'gone-again@example.org' } });
  await c.expect(422, 'POST', '/v1/erasures', { body: { address: 'not an address' } });
  await c.expect(200, 'GET', `/v1/erasures/${receipt.id}`);
  await c.expect(404, 'GET', '/v1/erasures/era_01JD7XWB1S9FQ0M3J8Q1V9Y2KZ');
}
