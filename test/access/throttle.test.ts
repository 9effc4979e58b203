import assert from 'node:assert/strict';
import { test } from 'node:test';
import { blockSeconds } from '../../src/access/index.js';
import { fakeClock } from '../support/clock.js';
import { startPlatform } from '../support/platform.js';

/**
 * Done 5 of issue 17: sign-in guessing is slowed (backoff) and then locked, per address and per
 * account; unknown API keys are throttled per address. Time is a fake clock: nothing sleeps.
 */
const policy = { backoffAfter: 3, lockAfter: 6, windowMinutes: 15, lockMinutes: 15 };

test('the backoff doubles after backoffAfter failures and the lock lasts lockMinutes', () => {
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6, 7].map((n) => blockSeconds(n, policy)),
    [0, 0, 1, 2, 4, 900, 900],
  );
});

async function platform(t: Parameters<typeof startPlatform>[0], clock = fakeClock()) {
  const p = await startPlatform(t, {
    start: false,
    clock,
    config: {
      access: {
        login: policy,
        account: { ...policy, lockAfter: 5 },
        keys: { backoffAfter: 2, lockAfter: 4, windowMinutes: 5, lockMinutes: 5 },
      },
    },
  });
  await p.platform.access.users.createUser(
    { kind: 'host' },
    { tenantId: p.tenantId, email: 'ana@example.com', role: 'developer', password: 'the right password' },
  );
  const login = (password: string, ip = '127.0.0.1', email = 'ana@example.com') =>
    p.platform.api.inject({ method: 'POST', url: '/v1/auth/login', remoteAddress: ip, payload: { email, password } });
  return { p, clock, login };
}

test('failed logins from one address back off, then lock with 429 and Retry-After, even for the right password', async (t) => {
  const { p, clock, login } = await platform(t);
  const statuses: number[] = [];
  for (let i = 0; i < 3; i++) statuses.push((await login('wrong password')).statusCode);
  assert.deepEqual(statuses, [401, 401, 401]);
  // The third failure started the backoff: refused for 1 s without a look at the password.
  const slowed = await login('the right password');
  assert.equal(slowed.statusCode, 429);
  assert.equal(slowed.headers['content-type'], 'application/problem+json; charset=utf-8');
  assert.equal(slowed.json().code, 'TOO_MANY_ATTEMPTS');
  assert.equal(slowed.headers['retry-after'], '1');
  // Each refusal is audited, the one that started the backoff saying so; the 429 was not looked at.
  const refused = await p.platform.store.audit.page({ chain: p.tenantId, action: 'user.sign_in_refused', limit: 10 });
  assert.deepEqual(
    refused.map((e) => JSON.parse(e.afterJson ?? 'null').blocked_seconds),
    [0, 0, 1],
  );
  clock.advance(1000);
  assert.equal((await login('wrong password')).statusCode, 401);
  assert.equal((await login('wrong password')).headers['retry-after'], '2', 'the backoff doubled');
  // Walk on through the backoff to the lock.
  for (let i = 0; i < 2; i++) {
    clock.advance(60_000);
    assert.equal((await login('wrong password', '127.0.0.1', `nobody${i}@example.com`)).statusCode, 401);
  }
  const locked = await login('the right password');
  assert.equal(locked.statusCode, 429);
  assert.equal(locked.headers['retry-after'], String(15 * 60));
  clock.advance(15 * 60_000);
  assert.equal((await login('the right password')).statusCode, 200, 'the lock ends');
});

test('failed logins to one account from many addresses lock the account', async (t) => {
  const { clock, login } = await platform(t);
  for (let i = 0; i < 5; i++) {
    clock.advance(60_000);
    assert.equal((await login('wrong password', `127.0.0.${10 + i}`)).statusCode, 401);
  }
  const locked = await login('the right password', '127.0.0.99');
  assert.equal(locked.statusCode, 429, 'a fresh address is refused for this account');
  assert.match(locked.json().detail, /this account/);
  assert.equal(locked.headers['retry-after'], String(15 * 60));
  // Another account from that address is not affected.
  assert.equal((await login('wrong password', '127.0.0.99', 'bob@example.com')).statusCode, 401);
});

test('unknown API keys from one address are throttled, and the address is refused before its key is looked at', async (t) => {
  const { p, clock } = await platform(t);
  const call = (key: string, ip = '127.0.0.5') =>
    p.platform.api.inject({ method: 'GET', url: '/v1/tenant', remoteAddress: ip, headers: { authorization: `Bearer ${key}` } });
  assert.equal((await call('pw_guess1')).statusCode, 401);
  assert.equal((await call('pw_guess2')).statusCode, 401);
  const refused = await call(p.key);
  assert.equal(refused.statusCode, 429, 'even the right key waits out the backoff');
  assert.equal(refused.json().code, 'TOO_MANY_ATTEMPTS');
  assert.equal((await call(p.key, '127.0.0.6')).statusCode, 200, 'another address is not affected');
  // Guessing on: at four failures the address is locked for five minutes.
  for (let i = 0; i < 2; i++) {
    clock.advance(10_000);
    assert.equal((await call(`pw_more${i}`)).statusCode, 401);
  }
  const locked = await call(p.key);
  assert.equal(locked.statusCode, 429);
  assert.equal(locked.headers['retry-after'], '300');
  // Guesses in a burst: 200 tries see only 429, so none is checked.
  let checked = 0;
  for (let i = 0; i < 200; i++) if ((await call(`pw_burst${i}`)).statusCode !== 429) checked++;
  assert.equal(checked, 0);
});

test('the counters are rows in the store, which every node of a cluster reads', async (t) => {
  const clock = fakeClock();
  const { p, login } = await platform(t, clock);
  for (let i = 0; i < 6; i++) {
    clock.advance(60_000);
    await login('wrong password', '127.0.0.7', `x${i}@example.com`);
  }
  const row = await p.platform.store.accessThrottle.get('login-ip:127.0.0.7');
  assert.ok(row && row.blockedUntil > clock.now(), 'the lock is a row every node reads');
  assert.equal(row.failures, 6);
});
