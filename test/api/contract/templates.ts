import assert from 'node:assert/strict';
import type { Contract } from './harness.js';

/** Templates (draft, publish, versions, rollback, preview) and the tenant's preflight policy. */
export async function driveTemplates(c: Contract): Promise<void> {
  const { expect } = c;
  const template = { name: 'receipt', subject: 'Hi {{ name }}', html: '<p>Hi {{ name }}</p>', text: 'Hi {{ name }}' };
  const created = (await expect(201, 'POST', '/v1/templates', { body: template })).json();
  const taken = await expect(409, 'POST', '/v1/templates', { body: template });
  assert.equal(taken.json().errors[0].path, '/name');
  const unnamed = await expect(422, 'POST', '/v1/templates', { body: { ...template, name: undefined } });
  assert.equal(unnamed.json().errors[0].path, '/name');
  c.input('POST /v1/templates', { body: { ...template, name: 'idem' } });

  await expect(200, 'GET', '/v1/templates?limit=10');
  await expect(422, 'GET', '/v1/templates?limit=0');
  await expect(200, 'GET', `/v1/templates/${created.id}`);
  await expect(200, 'GET', '/v1/templates/receipt');
  await expect(404, 'GET', '/v1/templates/nothing');

  await expect(200, 'PATCH', '/v1/templates/receipt', { body: { subject: 'Hello {{ name }}' } });
  await expect(404, 'PATCH', '/v1/templates/nothing', { body: { subject: 'x' } });
  const stream = await expect(422, 'PATCH', '/v1/templates/receipt', { body: { stream: 'bulk' } });
  assert.equal(stream.json().errors[0].path, '/stream');

  // Publishing with sample data renders strictly: a variable the data lacks refuses it (422).
  await expect(200, 'POST', '/v1/templates/receipt/publish', { body: { data: { name: 'Ann' } } });
  const lacking = await expect(422, 'POST', '/v1/templates/receipt/publish', { body: { data: {} } });
  assert.match(lacking.json().errors[0].path, /^\/data/);
  await expect(404, 'POST', '/v1/templates/nothing/publish', { body: {} });
  c.input('POST /v1/templates/:id/publish', { params: { id: 'receipt' }, body: {} });

  await expect(200, 'GET', '/v1/templates/receipt/versions/1');
  await expect(404, 'GET', '/v1/templates/receipt/versions/9');
  await expect(422, 'GET', '/v1/templates/receipt/versions/0');

  await expect(200, 'POST', '/v1/templates/receipt/rollback', { body: { version: 1 } });
  await expect(404, 'POST', '/v1/templates/receipt/rollback', { body: { version: 9 } });
  const version = await expect(422, 'POST', '/v1/templates/receipt/rollback', { body: { version: 0 } });
  assert.equal(version.json().errors[0].path, '/version');
  c.input('POST /v1/templates/:id/rollback', { params: { id: 'receipt' }, body: { version: 1 } });

  await expect(200, 'POST', '/v1/templates/receipt/preview', { body: { data: { name: 'Ann' } } });
  await expect(404, 'POST', '/v1/templates/nothing/preview', { body: { data: {} } });
  const missing = await expect(422, 'POST', '/v1/templates/receipt/preview', { body: { data: {} } });
  assert.match(missing.json().errors[0].path, /^\/data/);
  c.input('POST /v1/templates/:id/preview', { params: { id: 'receipt' }, body: { data: { name: 'Ann' } } });

  const policy = (await expect(200, 'GET', '/v1/preflight/policy')).json();
  await expect(200, 'PUT', '/v1/preflight/policy', { body: { refuse: [] } });
  const coachOnly = await expect(422, 'PUT', '/v1/preflight/policy', { body: { refuse: [policy.coach_only[0]] } });
  assert.match(coachOnly.json().errors[0].path, /^\/refuse/);
}
