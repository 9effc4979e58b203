import assert from 'node:assert/strict';
import type { Contract } from './harness.js';

/** Records of processing (docs/compliance.md): the document, its default period, and bad periods. */
export async function driveCompliance(c: Contract): Promise<void> {
  const { expect } = c;
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
