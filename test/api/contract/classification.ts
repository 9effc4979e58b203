import assert from 'node:assert/strict';
import type { Contract } from './harness.js';

/** Classification rules (PUT/GET) and the self-assessment history (docs/classification.md, docs/self-assessment.md). */
export async function driveClassification(c: Contract): Promise<void> {
  const { expect } = c;
  await expect(200, 'GET', '/v1/classification/rules');
  const put = await expect(200, 'PUT', '/v1/classification/rules', {
    body: { tags: { billing: 'pci' }, policies: [{ id: 'pci-verified-tls', classification: 'pci', require_tls: 'verified' }] },
  });
  assert.equal(put.json().detectors.card_number, 'pci');
  await expect(422, 'PUT', '/v1/classification/rules', {
    body: { policies: [{ id: 'x', classification: 'pci', require_tls: 'opportunistic' }] },
  });
  // Valid for the schema, refused by the rules: an unknown classification.
  await expect(422, 'PUT', '/v1/classification/rules', { body: { tags: { a: 'secret' } } });
  await expect(200, 'PUT', '/v1/classification/rules', { body: { detectors: { card_number: null, iban: null, us_ssn: null } } });
  await expect(200, 'GET', '/v1/self-assessment');
  await expect(422, 'GET', '/v1/self-assessment?limit=0');
}
