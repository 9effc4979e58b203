import assert from 'node:assert/strict';
import type { Contract } from './harness.js';

/** Engagement: tracking settings, A/B experiments, contact lists and their CSV imports. */
export async function driveEngagement(c: Contract): Promise<void> {
  const { expect } = c;
  const long = 'x'.repeat(65);
  await expect(200, 'GET', '/v1/tracking/settings');
  await expect(200, 'PUT', '/v1/tracking/settings', { body: { domain: '', opens_streams: ['marketing'], clicks_streams: [] } });
  const host = await expect(422, 'PUT', '/v1/tracking/settings', { body: { domain: 'not a host', opens_streams: [], clicks_streams: [] } });
  assert.equal(host.json().errors[0].path, '/domain');

  const experiment = {
    name: 'December subject line',
    variants: [
      { key: 'A', subject: 'Our December offers', share: 1 },
      { key: 'B', subject: 'Last chance', share: 1 },
    ],
  };
  const exp = (await expect(201, 'POST', '/v1/experiments', { body: experiment })).json().id as string;
  const lone = await expect(422, 'POST', '/v1/experiments', { body: { ...experiment, variants: [experiment.variants[0]] } });
  assert.equal(lone.json().errors[0].path, '/variants');
  c.input('POST /v1/experiments', { body: experiment });
  await expect(200, 'GET', '/v1/experiments');
  await expect(200, 'GET', `/v1/experiments/${exp}`);
  await expect(404, 'GET', '/v1/experiments/exp_missing');
  await expect(422, 'GET', `/v1/experiments/${long}`);
  await expect(200, 'GET', `/v1/experiments/${exp}/results`);
  await expect(404, 'GET', '/v1/experiments/exp_missing/results');
  await expect(422, 'GET', `/v1/experiments/${long}/results`);
  const variant = await expect(422, 'POST', `/v1/experiments/${exp}/stop`, { body: { variant: 'Z' } });
  assert.equal(variant.json().errors[0].path, '/variant');
  await expect(404, 'POST', '/v1/experiments/exp_missing/stop', { body: {} });
  c.input('POST /v1/experiments/:id/stop', { params: { id: exp }, body: {} });
  await expect(200, 'POST', `/v1/experiments/${exp}/stop`, { body: {} });

  const list = (await expect(201, 'POST', '/v1/lists', { body: { name: 'Newsletter' } })).json().id as string;
  const unnamed = await expect(422, 'POST', '/v1/lists', { body: { name: '' } });
  assert.equal(unnamed.json().errors[0].path, '/name');
  c.input('POST /v1/lists', { body: { name: 'Idem' } });
  await expect(200, 'GET', '/v1/lists');
  await expect(200, 'GET', `/v1/lists/${list}`);
  await expect(404, 'GET', '/v1/lists/lst_missing');
  await expect(422, 'GET', `/v1/lists/${long}`);

  const csv = (data: string) => ({ raw: { type: 'text/csv', data } });
  const imported = (
    await expect(200, 'POST', `/v1/lists/${list}/import`, csv('Email Address,First Name\r\nann@example.com,Ann\r\nnot-an-address,Bo\r\n'))
  ).json();
  await expect(400, 'POST', `/v1/lists/${list}/import`, csv('Email\r\n"ann@example.com\r\n'));
  await expect(404, 'POST', '/v1/lists/lst_missing/import', csv('Email\r\nann@example.com\r\n'));
  // Past lists.maxImportBytes (64 KiB in this test): refused while streaming.
  await expect(413, 'POST', `/v1/lists/${list}/import`, csv(`Email\r\n${'ann@example.com\r\n'.repeat(5000)}`));
  await expect(415, 'POST', `/v1/lists/${list}/import`, { body: { email: 'ann@example.com' } });
  const column = await expect(422, 'POST', `/v1/lists/${list}/import`, csv('Name\r\nAnn\r\n'));
  assert.ok(column.json().errors.length);
  c.input('POST /v1/lists/:id/import', { params: { id: list }, ...csv('Email\r\nann@example.com\r\n') });

  const findings = `/v1/lists/${list}/imports/${imported.import.id}/findings`;
  await expect(200, 'GET', findings);
  await expect(404, 'GET', `/v1/lists/${list}/imports/imp_missing/findings`);
  await expect(422, 'GET', `${findings}?limit=0`);
}
