import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newId } from '../../src/core/index.js';
import type { DkimAlgorithm, DkimKeyRow, Store } from '../../src/store/index.js';
import { forEachDialect, openStore } from '../support/dialects.js';

async function seedDomain(store: Store, name: string) {
  const tenantId = newId('ten');
  await store.tenants.insert({ id: tenantId, name: 't', sandbox: false, maxMessageBytes: null, ratePerMinute: null, createdAt: 1 });
  const domainId = newId('dom');
  await store.domains.insert({ id: domainId, tenantId, name, createdAt: 1 });
  return { tenantId, domainId };
}

const key = (
  d: { tenantId: string; domainId: string },
  domain: string,
  selector: string,
  algorithm: DkimAlgorithm,
  activatedAt: number | null,
): DkimKeyRow => ({
  id: newId('dk'),
  tenantId: d.tenantId,
  domainId: d.domainId,
  domain,
  selector,
  algorithm,
  privateKey: `v1.sealed-${selector}`,
  publicKey: `pub-${selector}`,
  status: activatedAt === null ? 'pending' : 'active',
  createdAt: activatedAt ?? 5,
  activatedAt,
  retiredAt: null,
  purpose: 'all',
  verifiedAt: null,
});

forEachDialect(
  'keys round-trip and list by domain, oldest first',
  async (t, dialect) => {
    const store = await openStore(t, dialect);
    const d = await seedDomain(store, 'example.com');
    const a = key(d, 'example.com', 'pw202611a', 'rsa-2048', 10);
    const b = key(d, 'example.com', 'pw202611b', 'ed25519', 20);
    await store.dkimKeys.insert(b);
    await store.dkimKeys.insert(a);
    assert.deepEqual(await store.dkimKeys.listByDomain(d.domainId), [a, b]);
    assert.deepEqual(await store.dkimKeys.get(a.id), a);
  },
  test,
);

forEachDialect(
  'a selector is unique within its domain',
  async (t, dialect) => {
    const store = await openStore(t, dialect);
    const d = await seedDomain(store, 'example.com');
    await store.dkimKeys.insert(key(d, 'example.com', 'pw202611a', 'rsa-2048', 10));
    await assert.rejects(store.dkimKeys.insert(key(d, 'example.com', 'pw202611a', 'ed25519', 10)));
  },
  test,
);

forEachDialect(
  'activeFor returns active keys of the named domains, newest activation first per algorithm',
  async (t, dialect) => {
    const store = await openStore(t, dialect);
    const d = await seedDomain(store, 'example.com');
    const other = await seedDomain(store, 'example.org');
    const old = key(d, 'example.com', 'pw202605a', 'rsa-2048', 10);
    const current = key(d, 'example.com', 'pw202611a', 'rsa-2048', 30);
    const ed = key(d, 'example.com', 'pw202611b', 'ed25519', 30);
    const pending = key(d, 'example.com', 'pw202611c', 'rsa-2048', null);
    const elsewhere = key(other, 'example.org', 'pw202611a', 'rsa-2048', 30);
    for (const k of [old, current, ed, pending, elsewhere]) await store.dkimKeys.insert(k);
    const active = await store.dkimKeys.activeFor(['news.example.com', 'example.com']);
    assert.deepEqual(
      active.map((k) => k.selector),
      ['pw202611b', 'pw202611a', 'pw202605a'],
    );
    assert.deepEqual(await store.dkimKeys.activeFor([]), []);
  },
  test,
);

forEachDialect(
  'setStatus stamps activation and retirement, and says when there is no such key',
  async (t, dialect) => {
    const store = await openStore(t, dialect);
    const d = await seedDomain(store, 'example.com');
    const k = key(d, 'example.com', 'pw202611a', 'rsa-2048', null);
    await store.dkimKeys.insert(k);
    assert.equal(await store.dkimKeys.setStatus(k.id, 'active', 100), true);
    assert.deepEqual(await store.dkimKeys.activeFor(['example.com']).then((r) => r.map((x) => [x.status, x.activatedAt])), [
      ['active', 100],
    ]);
    assert.equal(await store.dkimKeys.setStatus(k.id, 'retired', 200), true);
    const retired = await store.dkimKeys.get(k.id);
    assert.deepEqual([retired?.status, retired?.activatedAt, retired?.retiredAt], ['retired', 100, 200]);
    assert.deepEqual(await store.dkimKeys.activeFor(['example.com']), []);
    assert.equal(await store.dkimKeys.setStatus(newId('dk'), 'active', 1), false);
  },
  test,
);

forEachDialect(
  'removing a domain removes its keys',
  async (t, dialect) => {
    const store = await openStore(t, dialect);
    const d = await seedDomain(store, 'example.com');
    await store.dkimKeys.insert(key(d, 'example.com', 'pw202611a', 'rsa-2048', 10));
    assert.equal(await store.domains.delete(d.tenantId, d.domainId), true);
    assert.deepEqual(await store.dkimKeys.listByDomain(d.domainId), []);
  },
  test,
);
