import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { createResolver } from '../../src/dns/index.js';
import { createSendingIdentity } from '../../src/identity/index.js';
import type { DialectName } from '../../src/store/index.js';
import { forEachDialect } from '../support/dialects.js';
import { dkimWorld, testPlatformIdentity } from './dkim-fixture.js';

async function identityWorld(t: TestContext, dialect: DialectName) {
  const w = await dkimWorld(t, { dialect });
  const identity = createSendingIdentity({
    store: w.store,
    tenants: w.tenants,
    clock: w.clock,
    masterKey: w.masterKey,
    resolver: createResolver({ servers: [w.dns.address], timeoutMs: 2000, clock: w.clock }),
    sandbox: false,
    dkim: { algorithms: ['rsa-2048'], rotationDays: 180, overlapDays: 7 },
    verifyIntervalMs: 3_600_000,
    platform: testPlatformIdentity,
  });
  return { ...w, identity };
}

forEachDialect(
  "a registered subdomain whose key is still pending is not reported as DKIM-aligned through another tenant's parent key",
  async (t, dialect) => {
    const w = await identityWorld(t, dialect);
    await w.domains.addDomain(w.tenant.id, 'example.com'); // active (the fixture's domains run in sandbox)
    const other = await w.tenants.createTenant({ name: 'other' });
    const child = await w.domains.addDomain(other.id, 'sub.example.com');
    const [childKey] = await w.store.dkimKeys.listByDomain(child.domain.id);
    // Pending, and its record is not in DNS, so on-demand activation finds nothing to activate.
    await w.store.dkimKeys.setStatus(childKey!.id, 'pending', w.clock.now());

    const parent = await w.identity.accept.describe({ fromDomain: 'example.com', sandbox: false });
    assert.deepEqual(parent.alignment.dkim.signing_domains, ['example.com']);
    const described = await w.identity.accept.describe({ fromDomain: 'sub.example.com', sandbox: false });
    assert.deepEqual(described.alignment.dkim, { aligned: false, mode: 'r', signing_domains: [] });
    assert.ok(described.problems.some((p) => p.startsWith('DKIM: no verified key signs for sub.example.com')));
    assert.equal((await w.store.dkimKeys.get(childKey!.id))?.status, 'pending');
  },
  test,
);
