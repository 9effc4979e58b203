import type { Contract } from './harness.js';

/** Delivery health and the operator's overrides (pacing per pool × site). */
export async function driveDelivery(c: Contract): Promise<void> {
  await c.expect(200, 'GET', '/v1/delivery/health');
  await c.expect(200, 'POST', '/v1/delivery/health/gmail/pause', { body: { reason: 'contract', minutes: 5 } });
  await c.expect(200, 'POST', '/v1/delivery/health/gmail/resume', { body: { reason: 'contract' } });
  await c.expect(200, 'POST', '/v1/delivery/health/gmail/reset', { body: { reason: 'contract', pool: 'default' } });
  for (const action of ['pause', 'resume', 'reset']) {
    await c.expect(422, 'POST', `/v1/delivery/health/gmail/${action}`, { body: {} });
    c.input(`POST /v1/delivery/health/:site/${action}`, { params: { site: 'gmail' }, body: { reason: 'contract' } });
  }
}
