import assert from 'node:assert/strict';
import { test } from 'node:test';
import { generateSecret, hashSecret } from '../../src/tenants/api-keys.js';
import { CREDENTIALS_CACHE_MS, createTenants } from '../../src/tenants/index.js';
import { forEachDialect, openStore } from '../support/dialects.js';

/**
 * Every API request and SMTP AUTH presents a key; `authenticate` keeps what it found for
 * CREDENTIALS_CACHE_MS (docs/access.md, "API keys"). A revocation or settings change through this
 * process applies to the next request at once; one written by another process (the CLI, another
 * node) within CREDENTIALS_CACHE_MS; an unknown key is never kept, so a key created elsewhere works
 * at once.
 */
forEachDialect(
  'authenticate: a revocation here applies at once, one made elsewhere within CREDENTIALS_CACHE_MS; unknown keys are not kept',
  async (t, dialect) => {
    const store = await openStore(t, dialect);
    let now = 1_767_225_600_000;
    const tenants = createTenants({ store, clock: { now: () => now } });
    const tenant = await tenants.createTenant({ name: 'acme' });
    const a = await tenants.createKey({ tenantId: tenant.id, scopes: 'send' });
    const b = await tenants.createKey({ tenantId: tenant.id, scopes: 'send' });
    const keyOf = async (secret: string) => (await tenants.authenticate(secret))?.keyId;

    assert.equal(await keyOf(a.secret), a.key.id);
    await tenants.revokeKey(tenant.id, a.key.id);
    assert.equal(await keyOf(a.secret), undefined, 'revoked through this process: refused at once');

    // Revoked by another process (the CLI writes the store): accepted until the cache time is over.
    assert.equal(await keyOf(b.secret), b.key.id);
    await store.apiKeys.revoke(tenant.id, b.key.id, now);
    assert.equal(await keyOf(b.secret), b.key.id);
    now += CREDENTIALS_CACHE_MS - 1;
    assert.equal(await keyOf(b.secret), b.key.id);
    now += 1;
    assert.equal(await keyOf(b.secret), undefined, 'refused once CREDENTIALS_CACHE_MS has passed');

    // A secret nobody has yet, then a key with it created by another process: works at once.
    const secret = generateSecret();
    assert.equal(await keyOf(secret), undefined);
    const row = { id: 'key_elsewhere', tenantId: tenant.id, name: 'k', secretHash: hashSecret(secret), hint: secret.slice(0, 7) };
    await store.apiKeys.insert({ ...row, scopes: ['send'], createdAt: now, revokedAt: null });
    assert.equal(await keyOf(secret), 'key_elsewhere', 'an unknown key is not kept');

    // A tenant's settings travel with its principal: changed here, the next request sees them.
    assert.equal((await tenants.authenticate(secret))?.tenant.sandbox, false);
    await tenants.updateTenant(tenant.id, { sandbox: true });
    assert.equal((await tenants.authenticate(secret))?.tenant.sandbox, true, 'changed through this process: at once');
    await store.tenants.update(tenant.id, { sandbox: false });
    assert.equal((await tenants.authenticate(secret))?.tenant.sandbox, true);
    now += CREDENTIALS_CACHE_MS;
    assert.equal((await tenants.authenticate(secret))?.tenant.sandbox, false, 'changed elsewhere: within CREDENTIALS_CACHE_MS');
  },
  test,
);
