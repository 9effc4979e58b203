import assert from 'node:assert/strict';
import { after, before, type TestContext, test } from 'node:test';
import { startPlatform, type TestPlatform } from '../support/platform.js';

/**
 * The credential-compromise response (POST /v1/incidents/credential-compromise, issue #21): a key
 * that sent 3 messages is revoked (401 over the API, refused by SMTP's check), the tenant's webhook
 * secrets are rotated with no grace, an incident of kind credential_compromise is open with exactly
 * those 3 message ids, and each step is in the audit log; a user's sessions end and their password
 * stops working until a new one is set. One platform for the file, not started: requests go
 * through the API in process.
 */
let p: TestPlatform;
const teardown: (() => unknown)[] = [];
before(async () => {
  const ctx = { after: (fn: () => unknown) => teardown.push(fn) } as unknown as TestContext;
  p = await startPlatform(ctx, { start: false, config: { compliance: { enabled: false } } });
});
after(async () => {
  for (const fn of teardown.reverse()) await fn();
});

interface Call {
  key?: string;
  cookie?: string;
  csrf?: string;
  body?: unknown;
}
async function call(method: string, url: string, c: Call = {}) {
  const res = await p.platform.api.inject({
    method: method as 'GET',
    url,
    headers: {
      ...(c.cookie ? { cookie: c.cookie } : { authorization: `Bearer ${c.key ?? p.key}` }),
      ...(c.csrf ? { 'x-csrf-token': c.csrf } : {}),
    },
    ...(c.body !== undefined ? { payload: c.body as object } : {}),
  });
  return { status: res.statusCode, body: res.body ? res.json() : null, headers: res.headers };
}

const send = async (c: Call, subject: string) => {
  const res = await call('POST', '/v1/messages', {
    ...c,
    body: { from: 'billing@example.com', to: 'ada@example.org', subject, text: 'Your invoice' },
  });
  assert.equal(res.status, 202, JSON.stringify(res.body));
  return res.body.id as string;
};

/** The audit entries of the tenant with this action, newest last. */
async function audited(action: string) {
  const res = await call('GET', `/v1/audit?action=${action}&limit=100`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.data as { actor: { kind: string; id: string }; resource: { type: string; id: string }; after: any }[];
}

test('compromising a key that sent 3 messages: it answers 401, webhook secrets rotate, an incident lists the 3 messages, every step is audited', async () => {
  const { key, secret } = await p.platform.tenants.createKey({ tenantId: p.tenantId, scopes: ['send'], name: 'billing' });
  const sent = [
    await send({ key: secret }, 'Invoice 1'),
    await send({ key: secret }, 'Invoice 2'),
    await send({ key: secret }, 'Invoice 3'),
  ];
  const other = await send({}, 'Not from the leaked key');
  const { endpoint } = await p.platform.webhooks.endpoints.create(p.tenantId, { url: 'https://hooks.example.net/postwarden' });

  const res = await call('POST', '/v1/incidents/credential-compromise', {
    body: { key_id: key.id, reason: 'pushed to a public repository', clocks: ['gdpr'] },
  });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  const answer = res.body;

  // 1. The key stops working, over the API and for SMTP submission (which authenticates with keys).
  assert.equal((await call('POST', '/v1/messages', { key: secret, body: {} })).status, 401);
  assert.equal(await p.platform.tenants.authenticate(secret), undefined);
  assert.deepEqual(answer.revoked, { api_key: { id: key.id, already_revoked_at: null }, user: null });

  // 2. The webhook secret is new and the old one no longer signs (no grace).
  assert.equal(answer.webhooks.length, 1);
  assert.equal(answer.webhooks[0].id, endpoint.id);
  assert.match(answer.webhooks[0].secret, /^whsec_/);
  const row = (await p.platform.store.webhookEndpoints.get(endpoint.id, p.tenantId))!;
  assert.notEqual(row.secretSealed, endpoint.secretSealed);
  assert.ok(row.previousSecretExpiresAt !== null && row.previousSecretExpiresAt <= Date.now(), 'the previous secret expired at once');

  // 3 and 4. What it sent, in the answer and in the open incident.
  assert.deepEqual([...answer.sent.message_ids].sort(), [...sent].sort());
  assert.equal(answer.sent.messages, 3);
  assert.ok(!answer.sent.message_ids.includes(other));
  const incident = (await call('GET', `/v1/incidents/${answer.incident.id}`)).body;
  assert.equal(incident.kind, 'credential_compromise');
  assert.equal(incident.status, 'open');
  assert.deepEqual([...incident.links.messages].sort(), [...sent].sort());
  assert.deepEqual(incident.links.keys, [key.id]);
  assert.equal(incident.clocks[0].regime, 'gdpr');
  assert.equal(incident.reminders.length, 3);
  const timeline = incident.timeline.map((t: { entry: string }) => t.entry).join('\n');
  assert.match(timeline, /revoked/);
  assert.match(timeline, new RegExp(`webhook secrets rotated: ${endpoint.id}`));
  assert.match(timeline, /3 message\(s\) to 3 recipient\(s\)/);

  // Every change is in the audit log, by the admin key that asked.
  const [revoked] = (await audited('api_key.revoked')).filter((e) => e.resource.id === key.id);
  assert.ok(revoked, 'api_key.revoked');
  const [rotated] = (await audited('webhook_endpoint.secret_rotated')).filter((e) => e.resource.id === endpoint.id);
  assert.ok(rotated, 'webhook_endpoint.secret_rotated');
  const [opened] = (await audited('incident.opened')).filter((e) => e.resource.id === answer.incident.id);
  assert.equal(opened?.after.kind, 'credential_compromise');
  for (const e of [revoked, rotated, opened]) assert.equal(e!.actor.kind, 'api_key');
  assert.ok(!JSON.stringify(rotated).includes(answer.webhooks[0].secret), 'the new secret is not in the audit log');

  // Again: the key was revoked already; the answer says since when and still lists what it sent.
  const again = await call('POST', '/v1/incidents/credential-compromise', { body: { key_id: key.id, rotate_webhook_secrets: false } });
  assert.equal(again.status, 201, JSON.stringify(again.body));
  assert.notEqual(again.body.revoked.api_key.already_revoked_at, null);
  assert.equal(again.body.sent.messages, 3);
  assert.deepEqual(again.body.webhooks, []);
});

test('a caller without keys:write cannot revoke a key through the compromise action', async () => {
  const { key } = await p.platform.tenants.createKey({ tenantId: p.tenantId, scopes: ['send'], name: 'victim' });
  const { secret: responder } = await p.platform.tenants.createKey({
    tenantId: p.tenantId,
    scopes: ['compliance:write', 'webhooks:write'],
    name: 'responder without keys:write',
  });
  const res = await call('POST', '/v1/incidents/credential-compromise', { key: responder, body: { key_id: key.id } });
  assert.equal(res.status, 403);
  assert.equal(res.body.permission, 'keys:write');
  assert.equal((await p.platform.store.apiKeys.list(p.tenantId)).find((k) => k.id === key.id)?.revokedAt, null, 'nothing was revoked');
});

test('compromising a user ends their sessions and stops their password until a new one is set', async () => {
  const password = 'correct horse battery staple';
  const user = await p.platform.access.users.createUser(
    { kind: 'host' },
    { tenantId: p.tenantId, email: 'ana@example.com', role: 'developer', password },
  );
  const login = async (pw: string) => call('POST', '/v1/auth/login', { body: { email: 'ana@example.com', password: pw } });
  const signedIn = await login(password);
  assert.equal(signedIn.status, 200, JSON.stringify(signedIn.body));
  const cookie = String(signedIn.headers['set-cookie']).split(';')[0]!;
  const session = { cookie, csrf: signedIn.body.csrf_token as string };
  const fromSession = await send(session, 'Sent in a session');
  assert.equal((await call('GET', '/v1/me', session)).status, 200);

  const res = await call('POST', '/v1/incidents/credential-compromise', {
    body: { email: 'ana@example.com', rotate_webhook_secrets: false },
  });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  assert.deepEqual(res.body.revoked.user, { id: user.id, sessions_ended: 1 });
  assert.deepEqual(res.body.sent.message_ids, [fromSession], 'mail sent in the session carries the user id as its api_key');
  assert.deepEqual(res.body.incident.links.users, [user.id]);

  assert.equal((await call('GET', '/v1/me', session)).status, 401, 'the session has ended');
  assert.equal((await login(password)).status, 401, 'the password no longer signs in');
  const [entry] = (await audited('user.sign_in_revoked')).filter((e) => e.resource.id === user.id);
  assert.deepEqual(entry?.after, { sign_in: 'none until a new password is set', two_factor: false, sessions_revoked: 1 });

  // Until reset: an admin sets a new password and the user signs in again.
  const reset = await call('PATCH', `/v1/users/${user.id}`, { body: { password: 'a brand new long password' } });
  assert.equal(reset.status, 200, JSON.stringify(reset.body));
  assert.equal((await login('a brand new long password')).status, 200);
});
