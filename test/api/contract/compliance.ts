import assert from 'node:assert/strict';
import { verifyTraceBundle } from '../../../src/compliance/index.js';
import type { Contract } from './harness.js';

/**
 * The third-party register, incidents, trace bundles, the credential-compromise action and the records
 * of processing (docs/compliance.md).
 */
export async function driveCompliance(c: Contract): Promise<void> {
  const { expect, p, fixtures } = c;

  // --- The third-party register ------------------------------------------------------------------
  await expect(200, 'GET', '/v1/third-parties');
  await expect(422, 'GET', '/v1/third-parties?limit=0');
  const entry = (
    await expect(201, 'POST', '/v1/third-parties', {
      body: {
        name: 'Newsletter service',
        dpa: { signed_at: '2026-03-01', reference: 'contracts/newsletter-dpa.pdf' },
        certifications: [{ name: 'SOC 2 Type II', issuer: 'Example Audit LLP', expires_at: '2027-06-30' }],
        identifiers: { ips: ['198.51.100.0/24'] },
      },
    })
  ).json();
  assert.equal(entry.certifications[0].expires_at, '2027-06-30T00:00:00.000Z');
  c.input('POST /v1/third-parties', { body: { name: 'Contract vendor' } });
  const badIp = await expect(422, 'POST', '/v1/third-parties', { body: { name: 'Bad', identifiers: { ips: ['not-an-ip'] } } });
  assert.equal(badIp.json().errors[0].path, '/identifiers/ips');
  await expect(409, 'POST', '/v1/third-parties', { body: { name: 'Newsletter service' } });
  await expect(200, 'GET', `/v1/third-parties/${entry.id}`);
  await expect(404, 'GET', '/v1/third-parties/tp_missing');
  await expect(200, 'PATCH', `/v1/third-parties/${entry.id}`, { body: { owner: 'legal' } });
  c.input('PATCH /v1/third-parties/:id', { params: { id: entry.id }, body: { owner: 'legal' } });
  const other = (await expect(201, 'POST', '/v1/third-parties', { body: { name: 'Other vendor' } })).json();
  await expect(409, 'PATCH', `/v1/third-parties/${entry.id}`, { body: { name: 'Other vendor' } });
  const badDate = await expect(422, 'PATCH', `/v1/third-parties/${entry.id}`, { body: { review_due_at: 'not-a-date-at-all' } });
  assert.equal(badDate.json().errors[0].path, '/review_due_at');
  await expect(404, 'PATCH', '/v1/third-parties/tp_missing', { body: { owner: 'x' } });
  await expect(200, 'POST', '/v1/third-parties/seed');
  await expect(204, 'DELETE', `/v1/third-parties/${other.id}`);
  await expect(404, 'DELETE', `/v1/third-parties/${other.id}`);

  // --- Incidents -----------------------------------------------------------------------------------
  await expect(200, 'GET', '/v1/incidents');
  await expect(422, 'GET', '/v1/incidents?limit=0');
  const incident = (
    await expect(201, 'POST', '/v1/incidents', {
      body: { kind: 'breach', severity: 'high', title: 'Contract incident', clocks: ['gdpr'], links: { messages: [fixtures.sent.id] } },
    })
  ).json();
  assert.equal(incident.reminders.length, 3, 'GDPR: two reminders and the deadline');
  c.input('POST /v1/incidents', { body: { kind: 'breach', severity: 'low', title: 'Contract input' } });
  const badClock = await expect(422, 'POST', '/v1/incidents', {
    body: { kind: 'x', severity: 'low', title: 'x', clocks: ['gdpr', 'nosuch'] },
  });
  assert.equal(badClock.json().errors[0].path, '/clocks/1');
  const badLink = await expect(422, 'POST', '/v1/incidents', {
    body: { kind: 'x', severity: 'low', title: 'x', links: { messages: ['msg_01JD7XWB1S9FQ0M3J8Q1V9Y2KZ'] } },
  });
  assert.equal(badLink.json().errors[0].path, '/links/messages/0');
  await expect(200, 'GET', `/v1/incidents/${incident.id}`);
  await expect(404, 'GET', '/v1/incidents/inc_missing');
  await expect(200, 'POST', `/v1/incidents/${incident.id}/notes`, { body: { entry: 'Recipient confirmed deletion.' } });
  c.input('POST /v1/incidents/:id/notes', { params: { id: incident.id }, body: { entry: 'Again.' } });
  await expect(404, 'POST', '/v1/incidents/inc_missing/notes', { body: { entry: 'x' } });
  await expect(422, 'POST', `/v1/incidents/${incident.id}/notes`, { body: { entry: '' } });
  const closed = (await expect(200, 'POST', `/v1/incidents/${incident.id}/close`, { body: { reason: 'Authority notified.' } })).json();
  assert.deepEqual(
    closed.reminders.map((r: { sent_at: string | null }) => r.sent_at),
    [],
    'reminders not yet sent are cancelled',
  );
  c.input('POST /v1/incidents/:id/close', { params: { id: incident.id }, body: { reason: 'done' } });
  await expect(409, 'POST', `/v1/incidents/${incident.id}/close`, { body: { reason: 'again' } });
  await expect(404, 'POST', '/v1/incidents/inc_missing/close', { body: { reason: 'x' } });

  // --- A message trace bundle, byte for byte as signed -------------------------------------------------
  const bundle = await expect(200, 'GET', `/v1/messages/${fixtures.sent.id}/trace`);
  assert.equal(verifyTraceBundle(bundle.text).ok, true, bundle.text.slice(0, 200));
  await expect(404, 'GET', '/v1/messages/msg_01JD7XWB1S9FQ0M3J8Q1V9Y2KZ/trace');

  // --- Credential compromise (a key of its own: the send and read keys serve the 403 loop) ---------
  const leaked = await p.platform.tenants.createKey({ tenantId: p.tenantId, scopes: ['send'], name: 'contract leaked' });
  const answer = (await expect(201, 'POST', '/v1/incidents/credential-compromise', { body: { key_id: leaked.key.id } })).json();
  assert.equal(answer.incident.kind, 'credential_compromise');
  c.input('POST /v1/incidents/credential-compromise', { body: { key_id: leaked.key.id, rotate_webhook_secrets: false } });
  await expect(404, 'POST', '/v1/incidents/credential-compromise', { body: { key_id: 'key_missing' } });
  const both = await expect(422, 'POST', '/v1/incidents/credential-compromise', {
    body: { key_id: leaked.key.id, email: 'a@example.org' },
  });
  assert.equal(both.json().errors[0].path, '/email');

  // --- Records of processing: the document, its default period, and bad periods -----------------------
  const path = '/v1/compliance/records-of-processing';
  const last30 = (await expect(200, 'GET', path)).json();
  assert.equal(last30.kind, 'postwarden.records-of-processing');
  assert.ok(last30.totals.sandbox >= 1, 'the fixtures sent through the sandbox in the last 30 days');
  const old = (await expect(200, 'GET', `${path}?from=2020-01-01&to=2020-02-01`)).json();
  assert.deepEqual([old.period.from, old.totals.accepted, old.flows], ['2020-01-01T00:00:00.000Z', 0, []]);
  const bad = (await expect(422, 'GET', `${path}?from=yesterday`)).json();
  assert.equal(bad.errors[0].path, '/query/from');
  await expect(422, 'GET', `${path}?from=2020-02-01&to=2020-01-01`);
}
