import assert from 'node:assert/strict';
import type { Contract } from './harness.js';

/** The dashboard's read side: every node serves it (no "not available here" 404). */
export async function driveHealth(c: Contract): Promise<void> {
  const overview = (await c.expect(200, 'GET', '/v1/overview')).json();
  assert.ok(overview.last_hour.accepted >= 1, 'the fixtures were sent in the last hour');
  await c.expect(200, 'GET', '/v1/providers');
  await c.expect(200, 'GET', '/v1/slo');
}
