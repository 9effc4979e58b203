import type { Contract } from './harness.js';

/** Feedback (bounces, complaints), the suppression list and its policy, one-click unsubscribe. */
export async function driveFeedback(c: Contract): Promise<void> {
  const { expect } = c;
  const { bounce, token } = c.fixtures;
  await expect(201, 'POST', '/v1/feedback', { raw: { type: 'message/rfc822', data: bounce } });
  await expect(422, 'POST', '/v1/feedback', { body: { raw: '%%%' } });
  c.input('POST /v1/feedback', { body: { raw: Buffer.from(bounce).toString('base64') } });

  await expect(201, 'POST', '/v1/suppressions', { body: { address: 'gone@example.org' } });
  await expect(200, 'POST', '/v1/suppressions', { body: { entries: [{ address: 'gone@example.org' }] } });
  await expect(422, 'POST', '/v1/suppressions', { body: { address: '' } });
  await expect(200, 'GET', '/v1/suppressions?limit=10');
  await expect(422, 'GET', '/v1/suppressions?reason=spite');
  await expect(200, 'GET', '/v1/suppressions/check?address=gone@example.org');
  await expect(422, 'GET', '/v1/suppressions/check?address=gone@example.org&domain=example.com');
  await expect(200, 'GET', '/v1/suppressions/export');
  const csv = await expect(200, 'GET', '/v1/suppressions/export?format=csv');
  await expect(422, 'GET', '/v1/suppressions/export?format=xml');
  await expect(200, 'POST', '/v1/suppressions/import?dry_run=true', { raw: { type: 'text/csv', data: csv.text } });
  await expect(200, 'POST', '/v1/suppressions/import', { body: { entries: [{ address: 'old@example.org', reason: 'import' }] } });
  await expect(422, 'POST', '/v1/suppressions/import', { body: { entries: 'none' } });
  await expect(200, 'GET', '/v1/suppressions/history');
  await expect(422, 'GET', '/v1/suppressions/history?limit=0');
  await expect(200, 'DELETE', '/v1/suppressions/old@example.org');
  await expect(404, 'DELETE', '/v1/suppressions/old@example.org');
  await expect(422, 'DELETE', '/v1/suppressions/old@example.org?scope=everywhere');
  await expect(200, 'GET', '/v1/suppressions/policy');
  await expect(200, 'PUT', '/v1/suppressions/policy', { body: { suppress_on: { complaint: true } } });
  await expect(422, 'PUT', '/v1/suppressions/policy', { body: { suppress_on: { spam: true } } });
  c.input('POST /v1/suppressions', { body: { address: 'idem@example.org' } });
  c.input('POST /v1/suppressions/import', { body: { entries: [{ address: 'idem@example.org' }] } });

  // Public: the signed token is the credential (RFC 8058).
  const form = { type: 'application/x-www-form-urlencoded', data: 'List-Unsubscribe=One-Click' };
  await expect(200, 'GET', `/v1/unsubscribe/${token}`, { key: null });
  await expect(400, 'GET', '/v1/unsubscribe/not-a-token', { key: null });
  const forged = token.slice(0, -2) + (token.endsWith('AA') ? 'BB' : 'AA');
  await expect(404, 'GET', `/v1/unsubscribe/${forged}`, { key: null });
  await expect(200, 'POST', `/v1/unsubscribe/${token}`, { key: null, raw: form });
  await expect(400, 'POST', `/v1/unsubscribe/${token}`, { key: null, raw: { ...form, data: 'List-Unsubscribe=No' } });
  await expect(404, 'POST', `/v1/unsubscribe/${forged}`, { key: null, raw: form });
  await expect(415, 'POST', `/v1/unsubscribe/${token}`, { key: null, raw: { type: 'text/plain', data: 'x' } });
  await expect(413, 'POST', `/v1/unsubscribe/${token}`, { key: null, raw: { ...form, data: 'x'.repeat(300_000) } });
  c.input('GET /v1/unsubscribe/:token', { params: { token }, key: null });
  c.input('POST /v1/unsubscribe/:token', { params: { token }, raw: form, key: null });
}
