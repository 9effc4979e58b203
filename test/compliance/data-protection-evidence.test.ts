import assert from 'node:assert/strict';
import { test } from 'node:test';
import { operatorActor } from '../../src/audit/index.js';
import { sendAndDeliver } from '../feedback/documents.js';
import { exampleEvent } from '../support/events.js';
import { startPlatform } from '../support/platform.js';

/**
 * Issue #18, Evidence: the evidence report gains the tenant's data protection: encryption coverage
 * and its data keys with their dates, residency, the legal holds in force and the latest purge runs.
 */
test('the evidence report shows encryption coverage, data keys, residency, holds and purge runs', async (t) => {
  const p = await startPlatform(t, { config: { residency: { region: 'eu' } } });
  const { retention, tenants } = p.platform;
  const who = operatorActor(p.tenantId);
  const sent = await sendAndDeliver(p, ['ann@example.org']);
  const pin = await p.request('PATCH', '/v1/tenant', { data_region: 'eu' });
  assert.equal(pin.status, 200, JSON.stringify(pin.body));
  await retention.placeHold(who, p.tenantId, { kind: 'message', messageId: sent.id, reason: 'regulator inquiry 7' });
  await retention.placeHold(who, p.tenantId, { kind: 'address', address: 'secret-person@example.org', reason: 'litigation 12' });
  const run = await retention.purgeDue();

  const res = await p.request('GET', '/v1/audits/report?domain=example.com&format=json');
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const d = res.body.dataProtection;
  assert.equal(d.tenant_id, p.tenantId);
  assert.equal(d.encryption.enabled, true);
  assert.ok(d.encryption.total > 0 && d.encryption.sealed === d.encryption.total, JSON.stringify(d.encryption));
  assert.equal(d.encryption.share, 1);
  assert.deepEqual(
    d.encryption.keys.map((k: { purpose: string; version: number; state: string }) => [k.purpose, k.version, k.state]),
    [
      ['content', 1, 'active'],
      ['index', 1, 'active'],
    ],
  );
  assert.ok(
    d.encryption.keys.every((k: Record<string, unknown>) => !('wrapped' in k) && !('key' in k)),
    'no key material',
  );
  assert.deepEqual(d.residency, { node_region: 'eu', tenant_region: 'eu' });
  assert.deepEqual(
    d.holds.map((h: { kind: string; reason: string; message_id: string | null }) => [h.kind, h.reason, h.message_id]).sort(),
    [
      ['address', 'litigation 12', null],
      ['message', 'regulator inquiry 7', sent.id],
    ],
  );
  assert.equal(JSON.stringify(res.body).includes('secret-person'), false, 'an address hold never shows its address');
  assert.equal(d.purge_runs[0].id, run.run);
  assert.equal(d.purge_runs[0].state, 'done');

  // The tenant's coverage counts only its own rows: another tenant's content does not move it.
  const other = await tenants.createTenant({ name: 'other' });
  const before = await p.platform.store.encryption.coverage();
  await p.platform.store.events.append(
    [exampleEvent('recipient.queued', { tenantId: other.id, messageId: 'msg_other_1' }, { n: 1 })],
    Date.now(),
  );
  assert.equal((await p.platform.store.encryption.coverage()).total, before.total + 1);
  const again = (await p.request('GET', '/v1/audits/report?domain=example.com&format=json')).body.dataProtection;
  assert.equal(again.encryption.total, d.encryption.total);

  const md = await (
    await fetch(`${p.url}/v1/audits/report?domain=example.com&format=md`, { headers: { authorization: `Bearer ${p.key}` } })
  ).text();
  for (const s of ['## Data protection', '### Data keys', '### Legal holds in force', '### Latest purge runs', 'pinned to region eu'])
    assert.ok(md.includes(s), s);
  const html = await (
    await fetch(`${p.url}/v1/audits/report?domain=example.com&format=html`, { headers: { authorization: `Bearer ${p.key}` } })
  ).text();
  assert.ok(html.includes('<h2>Data protection</h2>'));

  // Without audit:read the DNS report comes without it.
  const reader = (await tenants.createKey({ tenantId: p.tenantId, scopes: ['read'] })).secret;
  const plain = await fetch(`${p.url}/v1/audits/report?domain=example.com&format=json`, { headers: { authorization: `Bearer ${reader}` } });
  assert.equal(plain.status, 200);
  assert.equal(((await plain.json()) as Record<string, unknown>).dataProtection, undefined);
});
