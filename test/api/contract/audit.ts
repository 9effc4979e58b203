import type { Contract } from './harness.js';

/** The audit log: a page, a bad filter, the NDJSON export. */
export async function driveAudit(c: Contract): Promise<void> {
  await c.expect(200, 'GET', '/v1/audit?limit=2&action=api_key.created');
  await c.expect(422, 'GET', '/v1/audit?since=yesterday');
  await c.expect(200, 'GET', '/v1/audit/export');
}
