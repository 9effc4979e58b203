import { Secret, TOTP } from 'otpauth';
import type { Contract } from './harness.js';

/** The owner's sign-in, used again by the throttle loop of contract.test.ts. */
export const signIn = { email: 'owner@contract.example', password: 'contract owner pw' };

/** People, roles and sign-in (src/access): login, sessions with CSRF, TOTP, users and custom roles. */
export async function driveAccess(c: Contract): Promise<void> {
  const { p, expect } = c;
  await p.platform.access.users.createUser({ kind: 'host' }, { tenantId: p.tenantId, ...signIn, role: 'owner' });
  await expect(401, 'POST', '/v1/auth/login', { key: null, body: { ...signIn, password: 'wrong password' } });
  await expect(422, 'POST', '/v1/auth/login', { key: null, body: { email: 'x' } });
  const login = await expect(200, 'POST', '/v1/auth/login', { key: null, body: signIn });
  c.input('POST /v1/auth/login', { key: null, body: signIn });
  const cookie = /^(pw_session=[^;]+)/.exec(login.headers.get('set-cookie') ?? '')![1]!;
  const session = { key: null, headers: { cookie, 'x-csrf-token': login.json().csrf_token as string } };
  await expect(200, 'GET', '/v1/me', session);
  await expect(403, 'POST', '/v1/me/totp', { key: null, headers: { cookie } });
  await expect(409, 'POST', '/v1/me/totp');
  await expect(409, 'POST', '/v1/me/totp/confirm', { body: { code: '123456' } });
  const enrolled = (await expect(201, 'POST', '/v1/me/totp', session)).json();
  await expect(422, 'POST', '/v1/me/totp/confirm', { ...session, body: { code: '00000x' } });
  await expect(403, 'POST', '/v1/me/totp/confirm', { key: null, headers: { cookie }, body: { code: '123456' } });
  const code = new TOTP({ secret: Secret.fromBase32(enrolled.secret) }).generate();
  await expect(204, 'POST', '/v1/me/totp/confirm', { ...session, body: { code } });
  c.input('POST /v1/me/totp/confirm', { body: { code: '123456' } });

  await expect(200, 'GET', '/v1/users');
  const user = (await expect(201, 'POST', '/v1/users', { body: { email: 'dev@contract.example', role: 'developer' } })).json();
  await expect(409, 'POST', '/v1/users', { body: { email: 'dev@contract.example', role: 'developer' } });
  c.input('POST /v1/users', { body: { email: 'idem@contract.example', role: 'analyst' } });
  await expect(404, 'PATCH', '/v1/users/usr_missing', { body: { role: 'analyst' } });
  await expect(200, 'PATCH', `/v1/users/${user.id}`, { body: { role: 'analyst' } });
  await expect(200, 'GET', '/v1/roles');
  await expect(200, 'PUT', '/v1/roles/contract-role', { body: { permissions: ['messages:read'] } });
  await expect(422, 'PUT', '/v1/roles/owner', { body: { permissions: ['messages:read'] } });
  await expect(200, 'PATCH', `/v1/users/${user.id}`, { body: { role: 'contract-role' } });
  await expect(409, 'DELETE', '/v1/roles/contract-role');
  const owner = (await p.platform.store.users.findByEmail(signIn.email))!;
  // The last active owner stays an owner.
  await expect(409, 'PATCH', `/v1/users/${owner.id}`, { ...session, body: { role: 'admin' } });
  await expect(422, 'DELETE', '/v1/roles/admin');
  await expect(422, 'PATCH', `/v1/users/${user.id}`, { body: { role: 'no-such-role' } });
  await expect(200, 'PUT', '/v1/roles/short-lived', { body: { permissions: ['stats:read'] } });
  await expect(204, 'DELETE', '/v1/roles/short-lived');
  await expect(404, 'DELETE', '/v1/roles/no-such-role');
  await expect(403, 'POST', '/v1/auth/logout', { key: null, headers: { cookie } });
  await expect(204, 'POST', '/v1/auth/logout', session);
}
