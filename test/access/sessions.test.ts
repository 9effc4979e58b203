import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Secret, TOTP } from 'otpauth';
import { verifyAudit } from '../../src/audit/index.js';
import { fakeClock } from '../support/clock.js';
import { startPlatform } from '../support/platform.js';

/** Sign-in, sessions, CSRF, TOTP and the users API, over HTTP with a signed cookie. */
async function setup(t: Parameters<typeof startPlatform>[0]) {
  const clock = fakeClock(Date.now());
  const p = await startPlatform(t, { clock });
  const owner = await p.platform.access.users.createUser(
    { kind: 'host' },
    { tenantId: p.tenantId, email: 'owner@example.com', role: 'owner', password: 'owner password 1' },
  );
  const login = async (email: string, password: string, extra: Record<string, string> = {}) => {
    const res = await fetch(`${p.url}/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'sign-in-test/1' },
      body: JSON.stringify({ email, password, ...extra }),
    });
    const body = (await res.json()) as any;
    const setCookie = res.headers.get('set-cookie') ?? '';
    return { status: res.status, body, setCookie, cookie: /^(pw_session=[^;]+)/.exec(setCookie)?.[1] ?? '' };
  };
  const as = (cookie: string, csrf?: string) => async (method: string, path: string, body?: unknown) => {
    const res = await fetch(p.url + path, {
      method,
      headers: {
        cookie,
        'user-agent': 'sign-in-test/1',
        ...(csrf ? { 'x-csrf-token': csrf } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null, headers: res.headers };
  };
  return { p, clock, owner, login, as };
}

test('login sets a signed HTTP-only SameSite=Strict cookie; /v1/me answers for the session and for a key', async (t) => {
  const { p, login, as } = await setup(t);
  const bad = await login('owner@example.com', 'not the password');
  assert.equal(bad.status, 401);
  assert.equal(bad.body.code, 'UNAUTHENTICATED');
  const unknown = await login('nobody@example.com', 'not the password');
  assert.equal(unknown.body.detail, bad.body.detail, 'an unknown email reads like a wrong password');

  const s = await login('OWNER@example.com', 'owner password 1');
  assert.equal(s.status, 200);
  assert.match(s.setCookie, /HttpOnly/);
  assert.match(s.setCookie, /SameSite=Strict/);
  assert.doesNotMatch(s.setCookie, /Secure/, 'plain HTTP: no Secure flag under auto');
  assert.match(s.cookie, /^pw_session=[\w-]+\.[\w%-]+$/, 'token.signature');
  const me = await as(s.cookie)('GET', '/v1/me');
  assert.equal(me.status, 200);
  assert.equal(me.body.kind, 'session');
  assert.equal(me.body.user.email, 'owner@example.com');
  assert.ok(me.body.permissions.includes('users:write'));

  const forged = await as(s.cookie.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')))('GET', '/v1/me');
  assert.equal(forged.status, 401, 'a cookie whose signature does not match is refused');

  const byKey = await p.request('GET', '/v1/me');
  assert.equal(byKey.body.kind, 'key');
  assert.equal(byKey.body.user, null);
  assert.ok(byKey.body.permissions.includes('messages:send'));
});

test('a change made with a session needs the CSRF token; a key needs none', async (t) => {
  const { p, login, as } = await setup(t);
  const s = await login('owner@example.com', 'owner password 1');
  const without = await as(s.cookie)('PATCH', '/v1/tenant', { alignment: 'reject' });
  assert.equal(without.status, 403);
  assert.equal(without.body.code, 'CSRF_REJECTED');
  const wrong = await as(s.cookie, 'not-the-token')('PATCH', '/v1/tenant', { alignment: 'reject' });
  assert.equal(wrong.body.code, 'CSRF_REJECTED');
  assert.equal((await p.platform.tenants.getTenant(p.tenantId)).alignmentPolicy, 'warn', 'nothing changed');
  const right = await as(s.cookie, s.body.csrf_token)('PATCH', '/v1/tenant', { alignment: 'reject' });
  assert.equal(right.status, 200);
  assert.equal((await p.request('PATCH', '/v1/tenant', { alignment: 'warn' })).status, 200);
});

test('logout and disabling a user end their sessions at once', async (t) => {
  const { login, as } = await setup(t);
  const owner = await login('owner@example.com', 'owner password 1');
  const ownerCall = as(owner.cookie, owner.body.csrf_token);
  const created = await ownerCall('POST', '/v1/users', { email: 'dev@example.com', role: 'developer', password: 'developer password' });
  assert.equal(created.status, 201);
  assert.equal(created.body.role, 'developer');
  assert.equal(created.body.password, undefined);

  const dev = await login('dev@example.com', 'developer password');
  assert.equal((await as(dev.cookie)('GET', '/v1/me')).status, 200);
  const denied = await as(dev.cookie, dev.body.csrf_token)('POST', '/v1/users', { email: 'x@example.com', role: 'owner' });
  assert.equal(denied.status, 403);
  assert.equal(denied.body.permission, 'users:write');

  assert.equal((await ownerCall('PATCH', `/v1/users/${created.body.id}`, { disabled: true })).status, 200);
  assert.equal((await as(dev.cookie)('GET', '/v1/me')).status, 401, 'the disabled user is signed out');
  assert.equal((await login('dev@example.com', 'developer password')).status, 401, 'and cannot sign in');

  assert.equal((await ownerCall('POST', '/v1/auth/logout')).status, 204);
  assert.equal((await as(owner.cookie)('GET', '/v1/me')).status, 401, 'the cookie is worth nothing after logout');
});

test('nobody grants what they lack: an admin cannot make an owner, a developer key cannot mint an admin key', async (t) => {
  const { p, owner: ownerRow, login, as } = await setup(t);
  const owner = await login('owner@example.com', 'owner password 1');
  const ownerCall = as(owner.cookie, owner.body.csrf_token);
  await ownerCall('POST', '/v1/users', { email: 'admin@example.com', role: 'admin', password: 'admin password 12' });
  const admin = await login('admin@example.com', 'admin password 12');
  const adminCall = as(admin.cookie, admin.body.csrf_token);
  const made = await adminCall('POST', '/v1/users', { email: 'o2@example.com', role: 'owner', password: 'another owner pw' });
  assert.equal(made.status, 403);
  assert.match(made.body.detail, /Only an owner/);
  const last = await ownerCall('PATCH', `/v1/users/${ownerRow.id}`, { role: 'admin' });
  assert.equal(last.status, 409, 'the last owner stays an owner');

  // A custom role, then a user with it, then a key from that user limited to what it holds.
  const role = await ownerCall('PUT', '/v1/roles/key-maker', { permissions: ['keys:write', 'keys:read', 'messages:read'] });
  assert.equal(role.status, 200);
  await ownerCall('POST', '/v1/users', { email: 'km@example.com', role: 'key-maker', password: 'key maker password' });
  const km = await login('km@example.com', 'key maker password');
  const kmCall = as(km.cookie, km.body.csrf_token);
  const adminKey = await kmCall('POST', '/v1/keys', { scopes: ['admin'] });
  assert.equal(adminKey.status, 403);
  assert.equal(adminKey.body.permission, 'messages:send');
  const readKey = await kmCall('POST', '/v1/keys', { scopes: ['messages:read'] });
  assert.equal(readKey.status, 201);
  const withKey = await fetch(`${p.url}/v1/messages`, { headers: { authorization: `Bearer ${readKey.body.secret}` } });
  assert.equal(withKey.status, 200, 'a key with a permission name works like one with a scope');
  const roles = await kmCall('GET', '/v1/roles');
  assert.equal(roles.status, 403, 'listing roles needs users:read');
  assert.equal((await ownerCall('DELETE', '/v1/roles/key-maker')).status, 409, 'a role in use stays');
});

test('with TOTP on, login needs the current code', async (t) => {
  const { clock, login, as } = await setup(t);
  const s = await login('owner@example.com', 'owner password 1');
  const call = as(s.cookie, s.body.csrf_token);
  const enrol = await call('POST', '/v1/me/totp');
  assert.equal(enrol.status, 201);
  const totp = new TOTP({ secret: Secret.fromBase32(enrol.body.secret), digits: 6, period: 30, algorithm: 'SHA1' });
  assert.equal(
    (await call('POST', '/v1/me/totp/confirm', { code: '000000' === totp.generate({ timestamp: clock.now() }) ? '111111' : '000000' }))
      .status,
    422,
  );
  assert.equal((await call('POST', '/v1/me/totp/confirm', { code: totp.generate({ timestamp: clock.now() }) })).status, 204);

  const asked = await login('owner@example.com', 'owner password 1');
  assert.equal(asked.status, 401);
  assert.equal(asked.body.code, 'TOTP_REQUIRED');
  assert.equal(
    (
      await login('owner@example.com', 'owner password 1', {
        totp: '123456' === totp.generate({ timestamp: clock.now() }) ? '654321' : '123456',
      })
    ).status,
    401,
  );
  const ok = await login('owner@example.com', 'owner password 1', { totp: totp.generate({ timestamp: clock.now() }) });
  assert.equal(ok.status, 200);
});

type Entry = {
  action: string;
  actor: { kind: string; id: string; tenant_id: string | null; ip: string | null; user_agent: string | null };
  resource: { type: string; id: string | null };
  before: any;
  after: any;
};

test('sign-ins, refused sign-ins, sign-outs and TOTP enrolment are audited, never the password or the secret', async (t) => {
  const { p, clock, owner, login, as } = await setup(t);
  const last = async (action: string): Promise<Entry> => {
    const found = (await p.request('GET', `/v1/audit?action=${action}&limit=100`)).body.data.at(-1) as Entry | undefined;
    assert.ok(found, `an entry ${action}`);
    assert.deepEqual([found.actor.ip, found.actor.user_agent], ['127.0.0.1', 'sign-in-test/1']);
    return found;
  };

  assert.equal((await login('owner@example.com', 'not the password')).status, 401);
  const wrong = await last('user.sign_in_refused');
  assert.deepEqual([wrong.actor.kind, wrong.actor.id], ['system', 'password-sign-in']);
  assert.deepEqual(wrong.resource, { type: 'user', id: owner.id });
  assert.deepEqual(wrong.after, { email: 'owner@example.com', reason: 'wrong_password', blocked_seconds: 0 });
  // An email that names nobody goes to the platform chain, without the email (it may be a password).
  assert.equal((await login('hunter2-typed-here@example.com', 'not the password')).status, 401);
  const [unknown] = await p.platform.store.audit.page({ chain: 'platform', action: 'user.sign_in_refused', limit: 10 });
  assert.deepEqual(JSON.parse(unknown!.afterJson!), { email: null, reason: 'unknown_account', blocked_seconds: 0 });
  assert.equal(unknown!.actorIp, '127.0.0.1');
  assert.ok(!JSON.stringify(unknown).includes('hunter2'));

  const s = await login('owner@example.com', 'owner password 1');
  assert.equal(s.status, 200);
  const signedIn = await last('user.signed_in');
  assert.deepEqual([signedIn.actor.kind, signedIn.actor.id, signedIn.actor.tenant_id], ['user', owner.id, p.tenantId]);
  assert.deepEqual(signedIn.resource, { type: 'user', id: owner.id });
  assert.equal(signedIn.after.method, 'password');
  assert.equal(signedIn.after.totp, false);
  assert.match(signedIn.after.session, /^[0-9a-f]{16}$/);

  const call = as(s.cookie, s.body.csrf_token);
  const enrol = await call('POST', '/v1/me/totp');
  assert.equal(enrol.status, 201);
  const enrolled = await last('user.totp_enrolled');
  assert.deepEqual([enrolled.actor.kind, enrolled.actor.id, enrolled.resource.id], ['user', owner.id, owner.id]);
  assert.deepEqual([enrolled.before, enrolled.after], [{ totp: 'off' }, { totp: 'pending' }]);
  const totp = new TOTP({ secret: Secret.fromBase32(enrol.body.secret), digits: 6, period: 30, algorithm: 'SHA1' });
  assert.equal((await call('POST', '/v1/me/totp/confirm', { code: totp.generate({ timestamp: clock.now() }) })).status, 204);
  const confirmed = await last('user.totp_confirmed');
  assert.deepEqual([confirmed.before, confirmed.after], [{ totp: 'pending' }, { totp: 'on' }]);
  const badCode = totp.generate({ timestamp: clock.now() }) === '123456' ? '654321' : '123456';
  assert.equal((await login('owner@example.com', 'owner password 1', { totp: badCode })).status, 401);
  assert.equal((await last('user.sign_in_refused')).after.reason, 'wrong_totp');

  assert.equal((await call('POST', '/v1/auth/logout')).status, 204);
  const out = await last('user.signed_out');
  assert.deepEqual([out.actor.kind, out.actor.id, out.resource.id], ['user', owner.id, owner.id]);
  assert.equal(out.after.session, signedIn.after.session, 'the sign-out names the session the sign-in started');
  assert.equal((await call('POST', '/v1/auth/logout')).status, 401, 'an ended session signs out nothing more');
  assert.equal((await p.request('GET', '/v1/audit?action=user.signed_out')).body.data.length, 1);

  const all = JSON.stringify([
    (await p.request('GET', '/v1/audit?limit=1000')).body.data,
    await p.platform.store.audit.page({ chain: 'platform', limit: 1000 }),
  ]);
  for (const secret of ['owner password 1', 'not the password', enrol.body.secret])
    assert.ok(!all.includes(secret), 'no secret in the log');
  const report = await verifyAudit(p.platform.store);
  assert.equal(report.ok, true, JSON.stringify(report));
});

test('a sign-in, sign-out or TOTP enrolment whose audit entry cannot be written changes nothing; a refusal still counts', async (t) => {
  const { p, login, as } = await setup(t);
  await p.platform.access.users.createUser(
    { kind: 'host' },
    { tenantId: p.tenantId, email: 'dev@example.com', role: 'developer', password: 'developer password' },
  );
  const dev = await login('dev@example.com', 'developer password');
  const devCall = as(dev.cookie, dev.body.csrf_token);
  const sqlite = await import('better-sqlite3');
  const raw = new sqlite.default(`${p.config.dataDir}/postwarden.db`);
  t.after(() => raw.close());
  const sessions = () => (raw.prepare('select count(*) as n from user_sessions').get() as { n: number }).n;
  const before = sessions();
  // A real failure of the append: the database refuses new audit rows.
  raw.exec("CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_entries BEGIN SELECT RAISE(ABORT, 'audit log refused'); END");

  assert.equal((await login('owner@example.com', 'owner password 1')).status, 500);
  assert.equal(sessions(), before, 'no session was started');
  assert.equal((await devCall('POST', '/v1/me/totp')).status, 500);
  assert.equal((await p.platform.store.users.findByEmail('dev@example.com'))?.totpSecret, null, 'no TOTP secret was stored');
  assert.equal((await devCall('POST', '/v1/auth/logout')).status, 500);
  assert.equal((await as(dev.cookie)('GET', '/v1/me')).status, 200, 'the session was not ended');
  // The throttle counts a wrong password before the refusal is recorded: a failing audit log
  // does not turn guessing free.
  const failures = async () => (await p.platform.store.accessThrottle.get('login-account:owner@example.com'))?.failures ?? 0;
  const counted = await failures();
  assert.equal((await login('owner@example.com', 'not the password')).status, 500);
  assert.equal(await failures(), counted + 1);
  raw.exec('DROP TRIGGER refuse_audit');
  assert.equal((await login('owner@example.com', 'owner password 1')).status, 200);
  assert.equal(sessions(), before + 1);
});

test('security headers on API answers, the API docs and the dashboard', async (t) => {
  const { p } = await setup(t);
  const api = await fetch(`${p.url}/v1/events/schema`);
  assert.match(api.headers.get('content-security-policy') ?? '', /default-src 'none'/);
  assert.equal(api.headers.get('x-content-type-options'), 'nosniff');
  assert.match(api.headers.get('strict-transport-security') ?? '', /max-age=/);
  assert.equal(api.headers.get('cross-origin-resource-policy'), 'same-origin');
  // The whole set, on an answer, a refusal and a route that does not exist: worked out once at
  // start (security-headers.ts), so every answer carries the same.
  const expected = {
    'content-security-policy':
      "default-src 'none';style-src 'unsafe-inline';img-src 'self' data:;form-action 'self';frame-ancestors 'none';base-uri 'none'",
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin',
    'origin-agent-cluster': '?1',
    'referrer-policy': 'no-referrer',
    'strict-transport-security': 'max-age=31536000; includeSubDomains',
    'x-content-type-options': 'nosniff',
    'x-dns-prefetch-control': 'off',
    'x-download-options': 'noopen',
    'x-frame-options': 'SAMEORIGIN',
    'x-permitted-cross-domain-policies': 'none',
    'x-xss-protection': '0',
  };
  for (const [what, res] of [
    ['an answer', api],
    ['401', await fetch(`${p.url}/v1/messages`)],
    ['404', await fetch(`${p.url}/v1/no-such-route`)],
  ] as const) {
    const got = Object.fromEntries(Object.keys(expected).map((h) => [h, res.headers.get(h)]));
    assert.deepEqual(got, expected, `${what} (${res.status})`);
  }
  const docs = await fetch(`${p.url}/docs/static/index.html`);
  assert.equal(docs.status, 200);
  assert.match(docs.headers.get('content-security-policy') ?? '', /script-src 'self'/, 'swagger-ui may run its own scripts');
  const pixel = await fetch(`${p.url}/t/o/not-a-token`);
  assert.equal(pixel.headers.get('cross-origin-resource-policy'), 'cross-origin', 'mail clients elsewhere load the pixel');
});
