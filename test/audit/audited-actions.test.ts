import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { operatorName, verifyAudit } from '../../src/audit/index.js';
import { type CliDeps, runCli } from '../../src/cli/index.js';
import { tempDir } from '../support/dialects.js';
import { startPlatform, type TestPlatform } from '../support/platform.js';

/** One platform; each test makes one kind of sensitive change through the API and reads its entry. */
type Entry = {
  seq: number;
  action: string;
  actor: { kind: string; id: string; ip: string | null; user_agent: string | null; key_id: string | null };
  resource: { type: string; id: string | null };
  before: any;
  after: any;
  reason: string | null;
};

async function entries(p: TestPlatform, query = ''): Promise<Entry[]> {
  const res = await p.request('GET', `/v1/audit?limit=1000${query}`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.data;
}

async function lastOf(p: TestPlatform, action: string): Promise<Entry> {
  const found = (await entries(p, `&action=${action}`)).at(-1);
  assert.ok(found, `an entry ${action}`);
  assert.equal(found.actor.kind, 'api_key');
  assert.equal(found.actor.ip, '127.0.0.1');
  assert.equal(found.actor.user_agent, 'audit-test/1');
  assert.ok(found.actor.key_id?.startsWith('key_'));
  return found;
}

/** `postwarden --data-dir <the platform's> --json …` in process, as the host operator. */
async function cli(p: TestPlatform, args: string[]): Promise<{ code: number; out: any; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const deps: CliDeps = {
    env: { POSTWARDEN_HOSTNAME: 'mail.pw.test' },
    stdout: (s) => (stdout += s),
    stderr: (s) => (stderr += s),
    createPlatform: () => Promise.reject(new Error('no server here')),
    onSignal: () => () => undefined,
    exit: () => undefined,
  };
  const code = await runCli(['--data-dir', p.config.dataDir, '--json', ...args], deps);
  return { code, out: stdout ? JSON.parse(stdout) : undefined, stderr };
}

/** The newest entry of a chain with this action, as stored (host commands write the platform chain too). */
async function lastStored(p: TestPlatform, chain: string, action: string) {
  const rows = await p.platform.store.audit.page({ chain, action, limit: 1000 });
  const found = rows.at(-1);
  assert.ok(found, `an entry ${action} in chain ${chain}`);
  assert.deepEqual([found.actorKind, found.actorId], ['operator', operatorName()]);
  return { ...found, after: JSON.parse(found.afterJson ?? 'null') };
}

test('every sensitive API action leaves an entry with its actor, and the chain verifies', async (t) => {
  const p = await startPlatform(t);
  const ua = { 'user-agent': 'audit-test/1' };

  await t.test('api key create and revoke (never the secret)', async () => {
    const created = await p.request('POST', '/v1/keys', { name: 'ci', scopes: ['send'] }, ua);
    assert.equal(created.status, 201);
    const e = await lastOf(p, 'api_key.created');
    assert.deepEqual(e.after, { name: 'ci', scopes: ['send'], hint: created.body.hint });
    assert.ok(!JSON.stringify(e).includes(created.body.secret));
    assert.equal((await p.request('DELETE', `/v1/keys/${created.body.id}`, undefined, ua)).status, 204);
    const r = await lastOf(p, 'api_key.revoked');
    assert.equal(r.resource.id, created.body.id);
    assert.equal(r.before.revoked_at, null);
  });

  await t.test('tenant settings', async () => {
    assert.equal((await p.request('PATCH', '/v1/tenant', { alignment: 'reject' }, ua)).status, 200);
    const e = await lastOf(p, 'tenant.settings_updated');
    assert.equal(e.before.alignment, 'warn');
    assert.equal(e.after.alignment, 'reject');
    const quota = await p.request('PATCH', '/v1/tenant', { quotas: { daily: 500 } }, ua);
    assert.equal(quota.status, 200, JSON.stringify(quota.body));
    const limits = await lastOf(p, 'tenant.sending_limits_updated');
    assert.equal(limits.after.quotas.daily, 500);
    assert.notEqual(limits.before.quotas?.daily, 500);
  });

  await t.test('TLS policy', async () => {
    const res = await p.request('PUT', '/v1/tenant/tls-policy', { default: 'required' }, ua);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const e = await lastOf(p, 'tls_policy.updated');
    assert.equal(e.after.default, 'required');
    assert.notEqual(e.before.default, 'required');
  });

  await t.test('domain create, DKIM rotate and delete', async () => {
    const created = await p.request('POST', '/v1/domains', { name: 'audit.example' }, ua);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const e = await lastOf(p, 'domain.created');
    assert.equal(e.after.name, 'audit.example');
    assert.ok(e.after.dkim_keys.length >= 1);
    assert.ok(!JSON.stringify(e).includes('PRIVATE KEY'));
    const id = created.body.id ?? created.body.domain?.id;
    const rotated = await p.request('POST', `/v1/domains/${id}/dkim/rotate`, {}, ua);
    assert.ok([200, 201].includes(rotated.status), JSON.stringify(rotated.body));
    const r = await lastOf(p, 'dkim_key.rotated');
    assert.equal(r.resource.id, id);
    assert.ok(r.after.created.length >= 1);
    assert.equal((await p.request('DELETE', `/v1/domains/${id}`, undefined, ua)).status, 204);
    assert.equal((await lastOf(p, 'domain.deleted')).before.name, 'audit.example');
  });

  await t.test('domain streams update (an empty change records nothing)', async () => {
    const created = await p.request('POST', '/v1/domains', { name: 'streams.example' }, ua);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.id;
    const patched = await p.request('PATCH', `/v1/domains/${id}`, { streams: ['transactional', 'marketing'] }, ua);
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    const e = await lastOf(p, 'domain.updated');
    assert.deepEqual([e.resource.type, e.resource.id], ['domain', id]);
    assert.deepEqual([e.before, e.after], [{ streams: null }, { streams: ['transactional', 'marketing'] }]);
    const count = (await entries(p, '&action=domain.updated')).length;
    // The same set in another order changes nothing, and records nothing.
    assert.equal((await p.request('PATCH', `/v1/domains/${id}`, { streams: ['marketing', 'transactional'] }, ua)).status, 200);
    assert.equal((await entries(p, '&action=domain.updated')).length, count, 'an empty change records nothing');
    assert.equal((await p.request('PATCH', `/v1/domains/${id}`, { streams: null }, ua)).status, 200);
    const lifted = await lastOf(p, 'domain.updated');
    assert.deepEqual([lifted.before, lifted.after], [{ streams: ['transactional', 'marketing'] }, { streams: null }]);
    assert.equal((await p.request('GET', `/v1/domains/${id}`)).body.streams, null);
  });

  await t.test('suppression add, remove and import', async () => {
    assert.equal((await p.request('POST', '/v1/suppressions', { address: 'bob@example.net' }, ua)).status, 201);
    assert.equal((await lastOf(p, 'suppression.added')).after.entries[0].address, 'bob@example.net');
    assert.equal((await p.request('DELETE', '/v1/suppressions/bob@example.net', undefined, ua)).status, 200);
    assert.equal((await lastOf(p, 'suppression.removed')).before.entries[0].address, 'bob@example.net');
    const imported = await p.request(
      'POST',
      '/v1/suppressions/import',
      { entries: [{ address: 'a@example.net' }, { address: 'b@example.net' }] },
      ua,
    );
    assert.equal(imported.status, 200, JSON.stringify(imported.body));
    assert.equal((await lastOf(p, 'suppression.imported')).after.added, 2);
    const before = (await entries(p)).length;
    await p.request('POST', '/v1/suppressions/import?dry_run=true', { entries: [{ address: 'c@example.net' }] }, ua);
    assert.equal((await entries(p)).length, before, 'a dry run records nothing');
  });

  await t.test('webhook endpoint create, update, rotate and delete (never the secret)', async () => {
    // Only bounces: nothing this file does is delivered to the (unreachable) endpoint.
    const url = 'https://hooks.example.net/in?token=t0k3n';
    const created = await p.request('POST', '/v1/webhooks', { url, events: ['recipient.bounced'] }, ua);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.id;
    const c = await lastOf(p, 'webhook_endpoint.created');
    assert.deepEqual([c.resource.type, c.resource.id], ['webhook_endpoint', id]);
    assert.equal(c.after.url, 'https://hooks.example.net/in?[redacted]', 'the query string (often a credential) is left out');
    assert.deepEqual(c.after.events, ['recipient.bounced']);
    const changed = await p.request('PATCH', `/v1/webhooks/${id}`, { description: 'ops', disabled: true }, ua);
    assert.equal(changed.status, 200, JSON.stringify(changed.body));
    const u = await lastOf(p, 'webhook_endpoint.updated');
    assert.deepEqual([u.before.description, u.before.state], ['', 'enabled']);
    assert.deepEqual([u.after.description, u.after.state], ['ops', 'disabled']);
    const rotated = await p.request('POST', `/v1/webhooks/${id}/rotate-secret`, undefined, ua);
    assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
    const r = await lastOf(p, 'webhook_endpoint.secret_rotated');
    assert.equal(r.resource.id, id);
    assert.equal(r.after.previous_signs_until, rotated.body.previous_secret_expires_at);
    assert.equal((await p.request('DELETE', `/v1/webhooks/${id}`, undefined, ua)).status, 204);
    assert.equal((await lastOf(p, 'webhook_endpoint.deleted')).before.description, 'ops');
    const all = JSON.stringify(await entries(p, '&resource=webhook_endpoint'));
    for (const secret of [created.body.secret, rotated.body.secret, 't0k3n']) assert.ok(!all.includes(secret), 'no secret in the log');
  });

  await t.test('user create, role change, disable and password; custom role put and delete (never the password)', async () => {
    const password = 'correct horse battery';
    const created = await p.request('POST', '/v1/users', { email: 'ana@example.com', role: 'developer', password }, ua);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.id;
    const c = await lastOf(p, 'user.created');
    assert.equal(c.resource.id, id);
    assert.deepEqual(c.after, { email: 'ana@example.com', name: 'ana@example.com', role: 'developer', sign_in: 'password' });
    const changed = await p.request('PATCH', `/v1/users/${id}`, { role: 'analyst', disabled: true }, ua);
    assert.equal(changed.status, 200, JSON.stringify(changed.body));
    const u = await lastOf(p, 'user.updated');
    assert.deepEqual([u.before.role, u.before.disabled, u.after.role, u.after.disabled], ['developer', false, 'analyst', true]);
    assert.equal((await p.request('PATCH', `/v1/users/${id}`, { password: `${password}!` }, ua)).status, 200);
    assert.equal((await lastOf(p, 'user.updated')).after.sign_in_changed, true);
    const role = await p.request('PUT', '/v1/roles/billing-support', { permissions: ['messages:read'] }, ua);
    assert.equal(role.status, 200, JSON.stringify(role.body));
    const r = await lastOf(p, 'role.updated');
    assert.deepEqual([r.resource.id, r.before, r.after.permissions], ['billing-support', null, ['messages:read']]);
    assert.equal((await p.request('DELETE', '/v1/roles/billing-support', undefined, ua)).status, 204);
    assert.deepEqual((await lastOf(p, 'role.deleted')).before.permissions, ['messages:read']);
    assert.ok(!JSON.stringify(await entries(p, '&resource=user')).includes(password), 'no password in the log');
  });

  await t.test('reading a captured message records the read', async () => {
    const sent = await p.request(
      'POST',
      '/v1/messages',
      { from: 'a@example.com', to: 'x@example.net', subject: 'S', text: 'secret body' },
      ua,
    );
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    let capId: string | undefined;
    for (let i = 0; i < 100 && !capId; i++) {
      capId = (await p.request('GET', '/v1/sandbox/messages')).body.data?.[0]?.id;
      if (!capId) await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(capId, 'the sandbox captured the message');
    assert.equal((await p.request('GET', `/v1/sandbox/messages/${capId}`, undefined, ua)).status, 200);
    const e = await lastOf(p, 'message_content.read');
    assert.deepEqual([e.resource.id, e.after.part], [capId, 'raw']);
    assert.equal((await p.request('GET', `/v1/sandbox/messages/${capId}/content`, undefined, ua)).status, 200);
    assert.equal((await lastOf(p, 'message_content.read')).after.part, 'content');
  });

  await t.test('filters and cursor pages', async () => {
    const all = await entries(p);
    const page1 = await p.request('GET', '/v1/audit?limit=2');
    assert.deepEqual(
      page1.body.data.map((e: Entry) => e.seq),
      [1, 2],
    );
    const page2 = await p.request('GET', `/v1/audit?limit=2&after=${page1.body.next_cursor}`);
    assert.deepEqual(
      page2.body.data.map((e: Entry) => e.seq),
      [3, 4],
    );
    const keys = await entries(p, '&resource=api_key');
    assert.ok(keys.length >= 3 && keys.every((e) => e.resource.type === 'api_key'));
    assert.ok((await entries(p, `&since=${new Date(Date.now() + 3_600_000).toISOString()}`)).length === 0);
    assert.equal((await p.request('GET', '/v1/audit?since=yesterday')).status, 422);
    const exported = await p.request('GET', '/v1/audit/export');
    assert.equal(exported.status, 200);
    assert.equal(typeof exported.body, 'string', 'several NDJSON lines');
    const lines = String(exported.body).trim().split('\n');
    assert.equal(lines.length, all.length);
  });

  await t.test('retention policy, legal hold place and release, erasure (never the address)', async () => {
    const set = await p.request('PUT', '/v1/retention', { policies: [{ data_class: 'bodies', max_days: 3, min_days: null }] }, ua);
    assert.equal(set.status, 200);
    const policy = await lastOf(p, 'retention.policy_updated');
    assert.equal(policy.before[0].maxDays, 7);
    assert.equal(policy.after[0].maxDays, 3);
    const hold = await p.request('POST', '/v1/legal-holds', { kind: 'address', address: 'kept@example.org', reason: 'case 9' }, ua);
    assert.equal(hold.status, 201);
    const placed = await lastOf(p, 'legal_hold.placed');
    assert.equal(placed.resource.id, hold.body.id);
    assert.equal(JSON.stringify(placed).includes('kept@example.org'), false);
    assert.equal((await p.request('DELETE', `/v1/legal-holds/${hold.body.id}`, undefined, ua)).status, 200);
    assert.equal((await lastOf(p, 'legal_hold.released')).resource.id, hold.body.id);
    const erased = await p.request('POST', '/v1/erasures', { address: 'gone@example.org' }, ua);
    assert.equal(erased.status, 201);
    const e = await lastOf(p, 'erasure.completed');
    assert.equal(e.resource.id, erased.body.id);
    assert.equal(JSON.stringify(e).includes('gone@example.org'), false);
  });

  await t.test('suppression policy (an empty change records nothing)', async () => {
    const body = { suppress_on: { complaint: false } };
    assert.equal((await p.request('PUT', '/v1/suppressions/policy', body, ua)).status, 200);
    const e = await lastOf(p, 'suppression_policy.updated');
    assert.deepEqual([e.resource.type, e.resource.id], ['suppression_policy', p.tenantId]);
    assert.deepEqual(
      [e.before, e.after],
      [{ suppress_on: { hard_bounce: true, complaint: true } }, { suppress_on: { hard_bounce: true, complaint: false } }],
    );
    const count = (await entries(p, '&action=suppression_policy.updated')).length;
    assert.equal((await p.request('PUT', '/v1/suppressions/policy', body, ua)).status, 200);
    assert.equal((await entries(p, '&action=suppression_policy.updated')).length, count, 'an empty change records nothing');
  });

  await t.test('posture settings and DNS watch list, by the API and by the CLI', async () => {
    const set = await p.request('PUT', '/v1/posture/settings', { approved_mx: ['MX1.example.com.', '*.mail.example.net'] }, ua);
    assert.equal(set.status, 200, JSON.stringify(set.body));
    const e = await lastOf(p, 'posture_settings.updated');
    assert.deepEqual([e.resource.type, e.resource.id], ['posture_settings', p.tenantId]);
    assert.deepEqual([e.before, e.after], [{ approved_mx: null }, { approved_mx: ['*.mail.example.net', 'mx1.example.com'] }]);
    const count = (await entries(p, '&action=posture_settings.updated')).length;
    await p.request('PUT', '/v1/posture/settings', { approved_mx: ['*.mail.example.net', 'mx1.example.com'] }, ua);
    assert.equal((await entries(p, '&action=posture_settings.updated')).length, count, 'the same list records nothing');
    assert.equal((await p.request('POST', '/v1/dns-watch', { domain: 'partner.example' }, ua)).status, 201);
    const w = await lastOf(p, 'dns_watch.added');
    assert.deepEqual([w.resource.type, w.resource.id, w.after], ['dns_watch', 'partner.example', { domain: 'partner.example' }]);
    assert.equal((await p.request('DELETE', '/v1/dns-watch/partner.example', undefined, ua)).status, 204);
    assert.deepEqual((await lastOf(p, 'dns_watch.removed')).before, { domain: 'partner.example' });
    const mx = await cli(p, ['dns', 'approved-mx', '--tenant', p.tenantId, '--set', 'mx2.example.com']);
    assert.equal(mx.code, 0, mx.stderr);
    const m = await lastStored(p, p.tenantId, 'posture_settings.updated');
    assert.deepEqual(m.after, { approved_mx: ['mx2.example.com'] });
    const watched = await cli(p, ['dns', 'watch', 'cli.example', '--tenant', p.tenantId]);
    assert.equal(watched.code, 0, watched.stderr);
    assert.equal((await lastStored(p, p.tenantId, 'dns_watch.added')).resourceId, 'cli.example');
    const unwatched = await cli(p, ['dns', 'unwatch', 'cli.example', '--tenant', p.tenantId]);
    assert.equal(unwatched.code, 0, unwatched.stderr);
    assert.equal((await lastStored(p, p.tenantId, 'dns_watch.removed')).resourceId, 'cli.example');
  });

  await t.test('delivery pause, resume and reset of a site, with the reason', async () => {
    const site = 'mx.paused.example';
    const paused = await p.request('POST', `/v1/delivery/health/${site}/pause`, { reason: 'blocklisted here', minutes: 60 }, ua);
    assert.equal(paused.status, 200, JSON.stringify(paused.body));
    const e = await lastOf(p, 'delivery.paused');
    assert.deepEqual([e.resource.type, e.resource.id, e.reason], ['delivery_site', site, 'blocklisted here']);
    assert.deepEqual([e.before, e.after], [{ pauses: [] }, { pool: null, minutes: 60 }]);
    assert.equal((await p.request('POST', `/v1/delivery/health/${site}/resume`, { reason: 'delisted' }, ua)).status, 200);
    const r = await lastOf(p, 'delivery.resumed');
    assert.deepEqual([r.resource.id, r.reason, r.before.pauses.map((x: any) => x.reason)], [site, 'delisted', ['blocklisted here']]);
    assert.equal((await p.request('POST', `/v1/delivery/health/${site}/reset`, { reason: 'start over' }, ua)).status, 200);
    assert.deepEqual((await lastOf(p, 'delivery.reset')).before, { pauses: [] });
  });

  await t.test('sandbox inbox: deleting a capture and emptying the inbox', async () => {
    const captures = async () => (await p.request('GET', '/v1/sandbox/messages')).body.data as { id: string }[];
    const first = (await captures())[0];
    assert.ok(first, 'a capture from the earlier send');
    assert.equal((await p.request('DELETE', `/v1/sandbox/messages/${first.id}`, undefined, ua)).status, 204);
    const e = await lastOf(p, 'sandbox_message.deleted');
    assert.deepEqual([e.resource.type, e.resource.id, e.before.envelope_to], ['capture', first.id, 'x@example.net']);
    assert.ok(!JSON.stringify(e).includes('secret body'), 'never the content');
    const sent = await p.request('POST', '/v1/messages', { from: 'a@example.com', to: 'y@example.net', subject: 'S', text: 'b' }, ua);
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    for (let i = 0; i < 100 && !(await captures()).length; i++) await new Promise((r) => setTimeout(r, 20));
    const cleared = await p.request('DELETE', '/v1/sandbox/messages', undefined, ua);
    assert.ok(cleared.body.deleted >= 1, JSON.stringify(cleared.body));
    assert.equal((await lastOf(p, 'sandbox_message.cleared')).after.deleted, cleared.body.deleted);
    const count = (await entries(p, '&action=sandbox_message.cleared')).length;
    assert.equal((await p.request('DELETE', '/v1/sandbox/messages', undefined, ua)).body.deleted, 0);
    assert.equal((await entries(p, '&action=sandbox_message.cleared')).length, count, 'an empty inbox records nothing');
  });

  await t.test('classification rules (the same document records nothing)', async () => {
    const rules = { tags: { invoice: 'pii' } };
    assert.equal((await p.request('PUT', '/v1/classification/rules', rules, ua)).status, 200);
    const e = await lastOf(p, 'classification_rules.updated');
    assert.deepEqual([e.resource.type, e.resource.id, e.before, e.after.tags], ['classification_rules', p.tenantId, null, rules.tags]);
    const count = (await entries(p, '&action=classification_rules.updated')).length;
    assert.equal((await p.request('PUT', '/v1/classification/rules', rules, ua)).status, 200);
    assert.equal((await entries(p, '&action=classification_rules.updated')).length, count, 'the same document records nothing');
    assert.equal((await p.request('PUT', '/v1/classification/rules', { tags: {} }, ua)).status, 200);
    const u = await lastOf(p, 'classification_rules.updated');
    assert.deepEqual([u.before.tags, u.after.tags], [rules.tags, {}]);
  });

  await t.test('tracking settings (the same settings record nothing)', async () => {
    const body = { domain: 'track.audit.example', opens_streams: ['marketing'], clicks_streams: ['marketing', 'transactional'] };
    const res = await p.request('PUT', '/v1/tracking/settings', body, ua);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const e = await lastOf(p, 'tracking_settings.updated');
    assert.deepEqual([e.resource.type, e.resource.id], ['tracking_settings', p.tenantId]);
    assert.deepEqual([e.before, e.after], [{ domain: '', opens_streams: [], clicks_streams: [] }, body]);
    const count = (await entries(p, '&action=tracking_settings.updated')).length;
    await p.request('PUT', '/v1/tracking/settings', { ...body, clicks_streams: ['transactional', 'marketing'] }, ua);
    assert.equal((await entries(p, '&action=tracking_settings.updated')).length, count, 'the same settings record nothing');
  });

  await t.test('template publish and rollback', async () => {
    const created = await p.request('POST', '/v1/templates', { name: 'audited', subject: 'Hi', html: '<p>Hi</p>', text: 'Hi' }, ua);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.id;
    for (let i = 0; i < 2; i++) assert.equal((await p.request('POST', `/v1/templates/${id}/publish`, {}, ua)).status, 200);
    const e = await lastOf(p, 'template.published');
    assert.deepEqual([e.resource.type, e.resource.id], ['template', id]);
    assert.deepEqual(
      [e.before, e.after],
      [
        { name: 'audited', current_version: 1 },
        { name: 'audited', current_version: 2 },
      ],
    );
    assert.equal((await p.request('POST', `/v1/templates/${id}/rollback`, { version: 1 }, ua)).status, 200);
    const r = await lastOf(p, 'template.rolled_back');
    assert.deepEqual([r.resource.id, r.before.current_version, r.after.current_version], [id, 2, 1]);
    const count = (await entries(p, '&action=template.rolled_back')).length;
    assert.equal((await p.request('POST', `/v1/templates/${id}/rollback`, { version: 1 }, ua)).status, 200);
    assert.equal((await entries(p, '&action=template.rolled_back')).length, count, 'the current version records nothing');
  });

  await t.test('host commands: encryption key rotations, shred and backup, audited as the operator', async () => {
    const rotated = await cli(p, ['encryption', 'rotate-tenant', '--tenant', p.tenantId]);
    assert.equal(rotated.code, 0, rotated.stderr);
    const r = await lastStored(p, p.tenantId, 'encryption.tenant_key_rotated');
    assert.deepEqual([r.resourceId, r.after.job_id], [rotated.out.key_id, rotated.out.job.id]);
    const master = await cli(p, ['encryption', 'rotate-master']);
    assert.equal(master.code, 0, master.stderr);
    assert.equal((await lastStored(p, 'platform', 'encryption.master_key_rotated')).after.kek_id, master.out.kek_id);
    const other = await cli(p, ['tenants', 'create', 'Shredded']);
    assert.equal(other.code, 0, other.stderr);
    const shred = await cli(p, ['encryption', 'shred', '--tenant', other.out.id, '--yes']);
    assert.equal(shred.code, 0, shred.stderr);
    const s = await lastStored(p, other.out.id, 'encryption.tenant_shredded');
    assert.equal(s.after.destroyed_keys, shred.out.destroyed_keys);
    const file = join(tempDir(t), 'backup.db');
    const backup = await cli(p, ['backup', file]);
    assert.equal(backup.code, 0, backup.stderr);
    assert.equal((await lastStored(p, 'platform', 'store.backed_up')).after.destination, file);
  });

  const report = await verifyAudit(p.platform.store);
  assert.equal(report.ok, true, JSON.stringify(report));
});

test('a change whose audit entry cannot be written is rolled back', async (t) => {
  const p = await startPlatform(t);
  const before = (await p.request('GET', '/v1/keys')).body.data.length;
  const domain = await p.request('POST', '/v1/domains', { name: 'kept.example' });
  assert.equal(domain.status, 201, JSON.stringify(domain.body));
  // A real failure of the append: the database refuses new audit rows.
  const sqlite = await import('better-sqlite3');
  const file = `${p.config.dataDir}/postwarden.db`;
  const raw = new sqlite.default(file);
  raw.exec("CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_entries BEGIN SELECT RAISE(ABORT, 'audit log refused'); END");
  raw.close();
  const res = await p.request('POST', '/v1/keys', { name: 'ci', scopes: ['send'] });
  assert.equal(res.status, 500);
  assert.equal((await p.request('GET', '/v1/keys')).body.data.length, before, 'no key was created');
  const removed = await p.request('PATCH', '/v1/tenant', { alignment: 'reject' });
  assert.equal(removed.status, 500);
  assert.equal((await p.request('GET', '/v1/tenant')).body.alignment, 'warn', 'the setting did not change');
  const users = (await p.request('GET', '/v1/users')).body.data.length;
  const user = await p.request('POST', '/v1/users', { email: 'no@example.com', role: 'developer' });
  assert.equal(user.status, 500);
  assert.equal((await p.request('GET', '/v1/users')).body.data.length, users, 'no user was created');
  const hook = await p.request('POST', '/v1/webhooks', { url: 'https://hooks.example.net/in', events: ['recipient.bounced'] });
  assert.equal(hook.status, 500);
  assert.equal((await p.request('GET', '/v1/webhooks')).body.data.length, 0, 'no webhook endpoint was created');
  const streams = await p.request('PATCH', `/v1/domains/${domain.body.id}`, { streams: ['transactional'] });
  assert.equal(streams.status, 500);
  assert.equal((await p.request('GET', `/v1/domains/${domain.body.id}`)).body.streams, null, "the domain's streams did not change");
  const policy = await p.request('PUT', '/v1/suppressions/policy', { suppress_on: { complaint: false } });
  assert.equal(policy.status, 500);
  assert.equal((await p.request('GET', '/v1/suppressions/policy')).body.suppress_on.complaint, true, 'the policy did not change');
  const mx = await p.request('PUT', '/v1/posture/settings', { approved_mx: ['mx.example.com'] });
  assert.equal(mx.status, 500);
  assert.equal((await p.request('GET', '/v1/posture/settings')).body.approved_mx, null, 'the approved MX did not change');
  // A pause is recorded before it is set (it lives in memory): one that cannot be recorded is not set.
  const pause = await p.request('POST', '/v1/delivery/health/mx.example.org/pause', { reason: 'not recorded' });
  assert.equal(pause.status, 500);
  assert.deepEqual((await p.request('GET', '/v1/delivery/health')).body.overrides, [], 'no pause was set');
});
