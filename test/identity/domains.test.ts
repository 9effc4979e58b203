import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { isPostwardenError, newId } from '../../src/core/index.js';
import { openSecret } from '../../src/governance/index.js';
import {
  checkDkimPrivateKey,
  createDkimSigner,
  createDomains,
  type DkimAlgorithm,
  dkimKeyAad,
  nextSelector,
} from '../../src/identity/index.js';
import { forEachDialect } from '../support/dialects.js';
import { dkimWorld, sampleMessage } from './dkim-fixture.js';

const code = (c: string) => (e: unknown) => isPostwardenError(e) && e.code === c;

forEachDialect(
  'adding a domain in sandbox makes an active RSA key and returns the TXT record to publish',
  async (t, dialect) => {
    const w = await dkimWorld(t, { dialect });
    const { domain, dkim } = await w.domains.addDomain(w.tenant.id, 'Example.COM');
    assert.equal(domain.name, 'example.com');
    assert.equal(dkim.length, 1);
    const [rec] = dkim;
    assert.deepEqual([rec!.selector, rec!.algorithm, rec!.dnsName], ['pw202611a', 'rsa-2048', 'pw202611a._domainkey.example.com']);
    assert.match(rec!.dnsValue, /^v=DKIM1; k=rsa; p=[A-Za-z0-9+/]{300,}={0,2}$/);

    const [row] = await w.store.dkimKeys.listByDomain(domain.id);
    assert.deepEqual([row!.status, row!.activatedAt, row!.tenantId], ['active', w.clock.now(), w.tenant.id]);
    assert.ok(!row!.privateKey.includes('PRIVATE KEY'));
    const opened = checkDkimPrivateKey(openSecret(row!.privateKey, w.masterKey, dkimKeyAad(row!.id)).toString());
    assert.ok(opened.ok && opened.value.publicKey === row!.publicKey, 'the sealed private key matches the published public key');
  },
  test,
);

forEachDialect(
  'with Ed25519 configured a domain gets two keys under two selectors',
  async (t, dialect) => {
    const w = await dkimWorld(t, { dialect, algorithms: ['rsa-2048', 'ed25519'] });
    const { domain, dkim } = await w.domains.addDomain(w.tenant.id, 'example.com');
    assert.deepEqual(
      dkim.map((d) => [d.selector, d.algorithm]),
      [
        ['pw202611a', 'rsa-2048'],
        ['pw202611b', 'ed25519'],
      ],
    );
    assert.match(dkim[1]!.dnsValue, /^v=DKIM1; k=ed25519; p=[A-Za-z0-9+/]{43}=$/);
    const records = (await w.domains.dnsRecords(w.tenant.id, domain.id)).filter((r) => r.kind === 'dkim');
    assert.deepEqual(
      records.map((r) => [r.type, r.name, r.value, r.keyStatus]),
      dkim.map((d) => ['TXT', d.dnsName, d.dnsValue, 'active']),
    );
    assert.ok(records.every((r) => r.why.includes('RFC 6376')));
  },
  test,
);

forEachDialect(
  'the published records make a signed message verify',
  async (t, dialect) => {
    const w = await dkimWorld(t, { dialect, algorithms: ['rsa-2048', 'ed25519'] });
    await w.addDomain('example.com');
    const signer = createDkimSigner({ store: w.store, masterKey: w.masterKey, clock: w.clock, threads: 0 });
    const signed = await signer.sign(sampleMessage(), 'example.com');
    assert.deepEqual(
      (await w.verify(signed.raw)).map((v) => v.result),
      ['pass', 'pass'],
    );
  },
  test,
);

forEachDialect(
  'a retired key is no longer listed to publish',
  async (t, dialect) => {
    const w = await dkimWorld(t, { dialect, algorithms: ['rsa-2048', 'ed25519'] });
    const { domain } = await w.domains.addDomain(w.tenant.id, 'example.com');
    const [rsa] = await w.store.dkimKeys.listByDomain(domain.id);
    await w.store.dkimKeys.setStatus(rsa!.id, 'retired', w.clock.now());
    assert.deepEqual(
      (await w.domains.dnsRecords(w.tenant.id, domain.id))
        .filter((r) => r.kind === 'dkim' && r.action === 'publish')
        .map((r) => r.algorithm),
      ['ed25519'],
    );
  },
  test,
);

forEachDialect(
  'another tenant cannot read a domain’s records, and a taken domain makes no keys',
  async (t, dialect) => {
    const w = await dkimWorld(t, { dialect });
    const { domain } = await w.domains.addDomain(w.tenant.id, 'example.com');
    const other = await w.tenants.createTenant({ name: 'other' });
    await assert.rejects(w.domains.dnsRecords(other.id, domain.id), code('NOT_FOUND'));
    await assert.rejects(w.domains.addDomain(other.id, 'example.com'), code('CONFLICT'));
    assert.equal((await w.store.dkimKeys.listByDomain(domain.id)).length, 1);
    assert.deepEqual(
      (await w.store.dkimKeys.activeFor(['example.com'])).map((k) => k.tenantId),
      [w.tenant.id],
    );
  },
  test,
);

forEachDialect(
  'when the keys cannot be stored the domain is taken back, so adding it again works',
  async (t, dialect) => {
    const w = await dkimWorld(t, { dialect });
    let fail = true;
    const store = {
      dkimKeys: w.store.dkimKeys,
      domains: w.store.domains,
      transaction: <T>(fn: Parameters<typeof w.store.transaction<T>>[0]) =>
        fail ? Promise.reject(new Error('disk full')) : w.store.transaction(fn),
    };
    const domains = createDomains({
      store,
      tenants: w.tenants,
      clock: w.clock,
      masterKey: w.masterKey,
      dkim: { algorithms: ['rsa-2048'] },
    });
    await assert.rejects(domains.addDomain(w.tenant.id, 'example.com'), /disk full/);
    assert.deepEqual(await w.tenants.listDomains(w.tenant.id), []);
    fail = false;
    const { dkim } = await domains.addDomain(w.tenant.id, 'example.com');
    assert.equal(dkim.length, 1);
  },
  test,
);

forEachDialect(
  'one domain failing in the schedule does not stop the pass for the domains after it',
  async (t, dialect) => {
    const w = await dkimWorld(t, { dialect });
    const broken = await w.domains.addDomain(w.tenant.id, 'a.example'); // listed first: ids sort by time
    w.clock.advance(1);
    const fine = await w.domains.addDomain(w.tenant.id, 'b.example');
    const store = {
      domains: w.store.domains,
      dkimKeys: {
        ...w.store.dkimKeys,
        listByDomain: (id: string) =>
          id === broken.domain.id ? Promise.reject(new Error('connection reset')) : w.store.dkimKeys.listByDomain(id),
      },
      transaction: <T>(fn: Parameters<typeof w.store.transaction<T>>[0]) => w.store.transaction(fn),
    };
    const warned: object[] = [];
    const domains = createDomains({
      store,
      tenants: w.tenants,
      clock: w.clock,
      masterKey: w.masterKey,
      dkim: { algorithms: ['rsa-2048'] },
      log: { warn: (obj) => warned.push(obj) },
    });
    w.clock.advance(181 * 86_400_000); // both keys are due for rotation
    const report = await domains.runSchedule(3_600_000);
    assert.deepEqual(report.failed, ['a.example']);
    assert.deepEqual(warned, [{ domain: 'a.example', error: 'connection reset' }]);
    assert.deepEqual(
      report.created.map((c) => c.split('._domainkey.')[1]),
      ['b.example'],
    );
    assert.equal((await w.store.dkimKeys.listByDomain(fine.domain.id)).length, 2);
  },
  test,
);

forEachDialect(
  'a rotation that loses the selector race to another node is a CONFLICT, not an internal error',
  async (t, dialect) => {
    const w = await dkimWorld(t, { dialect });
    const { domain } = await w.domains.addDomain(w.tenant.id, 'example.com');
    // The other node inserts the same next selector between our read of the keys and our insert.
    const store = {
      domains: w.store.domains,
      dkimKeys: w.store.dkimKeys,
      transaction: async <T>(fn: Parameters<typeof w.store.transaction<T>>[0]) => {
        const keys = await w.store.dkimKeys.listByDomain(domain.id);
        const rival = keys[0]!;
        const id = newId('dk');
        await w.store.dkimKeys.insert({
          ...rival,
          id,
          selector: nextSelector(
            keys.map((k) => k.selector),
            w.clock.now(),
          ),
          status: 'pending',
          activatedAt: null,
          createdAt: w.clock.now(),
        });
        return w.store.transaction(fn);
      },
    };
    const domains = createDomains({
      store,
      tenants: w.tenants,
      clock: w.clock,
      masterKey: w.masterKey,
      dkim: { algorithms: ['rsa-2048'] },
    });
    await assert.rejects(domains.rotate(w.tenant.id, domain.id), (e) => {
      assert.ok(isPostwardenError(e) && e.code === 'CONFLICT', String(e));
      assert.deepEqual(e.details, { selector: 'pw202611b', domain: 'example.com' });
      return true;
    });
    assert.deepEqual(
      (await w.store.dkimKeys.listByDomain(domain.id)).map((k) => [k.selector, k.status]),
      [
        ['pw202611a', 'active'],
        ['pw202611b', 'pending'],
      ],
      "only the other node's key was stored",
    );
  },
  test,
);

test('the DKIM configuration must keep RSA and name only known algorithms', async (t) => {
  const w = await dkimWorld(t);
  const make = (algorithms: string[]) => () =>
    createDomains({
      store: w.store,
      tenants: w.tenants,
      clock: w.clock,
      masterKey: randomBytes(32),
      dkim: { algorithms: algorithms as DkimAlgorithm[] },
    });
  assert.throws(make(['ed25519']), code('VALIDATION_FAILED'));
  assert.throws(make(['rsa-1024']), code('VALIDATION_FAILED'));
  assert.throws(make([]), code('VALIDATION_FAILED'));
  assert.doesNotThrow(make(['rsa-2048', 'ed25519']));
});
