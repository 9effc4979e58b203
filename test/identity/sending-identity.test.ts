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
    const parentDomain = await w.domains.addDomain(w.tenant.id, 'example.com'); // active (the fixture's domains run in sandbox)
    // …and seen in DNS: live mail signs only with verified keys.
    for (const k of await w.store.dkimKeys.listByDomain(parentDomain.domain.id)) await w.store.dkimKeys.markVerified(k.id, w.clock.now());
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

forEachDialect(
  'a key made active in sandbox does not count for live mail until its record is seen in DNS',
  async (t, dialect) => {
    const w = await identityWorld(t, dialect);
    const added = await w.domains.addDomain(w.tenant.id, 'example.com'); // active at once: the fixture runs in sandbox
    const [key] = await w.store.dkimKeys.listByDomain(added.domain.id);
    assert.equal(key?.status, 'active');
    assert.equal(key?.verifiedAt, null);
    const live = await w.identity.accept.describe({ fromDomain: 'example.com', sandbox: false });
    assert.deepEqual(live.alignment.dkim.signing_domains, []);
    // Publish the record: the next look finds it, marks the key verified and counts it.
    w.dns.setZone({ ...w.dns.zone, [added.dkim[0]!.dnsName]: { TXT: [added.dkim[0]!.dnsValue] } });
    w.clock.advance(3_600_000); // past the cached answers (alignment facts, the resolver's negative cache)
    const published = await w.identity.accept.describe({ fromDomain: 'example.com', sandbox: false });
    assert.deepEqual(published.alignment.dkim.signing_domains, ['example.com']);
    assert.ok((await w.store.dkimKeys.get(key!.id))?.verifiedAt);
  },
  test,
);
