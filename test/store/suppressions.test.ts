import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createSuppressions } from '../../src/feedback/index.js';
import { fakeClock } from '../support/clock.js';
import { databaseAt, forEachDialect, openStore } from '../support/dialects.js';

forEachDialect(
  'migration 004 keeps every existing entry, as scope tenant, and turns automatic suppression on',
  async (t, dialect) => {
    const { db, open } = await databaseAt(t, dialect, '002-dkim');
    await db.insertInto('tenants').values({ id: 'ten_1', name: 'Old', sandbox: 0, created_at: 1 }).execute();
    await db
      .insertInto('suppressions')
      .values([
        {
          id: 'sup_A',
          tenant_id: 'ten_1',
          address: 'a@example.net',
          reason: 'hard_bounce',
          source: 'evt_1',
          created_at: 1_700_000_000_123,
        },
        { id: 'sup_B', tenant_id: 'ten_1', address: 'b@example.net', reason: 'manual', source: 'key_1', created_at: 1_700_000_000_456 },
      ])
      .execute();
    const store = await open();
    assert.deepEqual(await store.suppressions.list('ten_1'), [
      {
        id: 'sup_A',
        tenantId: 'ten_1',
        scope: 'tenant',
        domain: null,
        stream: null,
        address: 'a@example.net',
        reason: 'hard_bounce',
        source: 'evt_1',
        createdAt: 1_700_000_000_123,
      },
      {
        id: 'sup_B',
        tenantId: 'ten_1',
        scope: 'tenant',
        domain: null,
        stream: null,
        address: 'b@example.net',
        reason: 'manual',
        source: 'key_1',
        createdAt: 1_700_000_000_456,
      },
    ]);
    assert.deepEqual(await store.suppressions.policy('ten_1'), { hardBounce: true, complaint: true });
    assert.deepEqual(await store.suppressions.changes('ten_1', { limit: 10 }), []);
  },
  test,
);

forEachDialect(
  'export, wipe and import through the service restore the identical set, global list included',
  async (t, dialect) => {
    const store = await openStore(t, dialect);
    const clock = fakeClock();
    const s = createSuppressions({ store, clock });
    await store.tenants.insert({ id: 'ten_1', name: 'T', sandbox: false, maxMessageBytes: null, ratePerMinute: null, createdAt: 0 });
    await s.add(
      'ten_1',
      [{ address: 'a@example.net' }, { address: 'b@example.net', stream: 'cold', reason: 'complaint', source: 'evt_9' }],
      'cli',
    );
    clock.advance(1234);
    await s.suppress({ tenantId: 'ten_1', address: 'C@Example.net', reason: 'hard_bounce', sourceEventId: 'evt_2', domain: 'example.com' });
    await s.add(null, [{ address: 'g@example.net', reason: 'manual', source: 'abuse desk' }], 'cli');

    for (const owner of ['ten_1', null]) {
      const before = await s.export(owner);
      for (const e of before) await s.unsuppress(owner, e.address, { scope: e.scope }, 'cli');
      assert.deepEqual(await s.export(owner), []);
      const r = await s.import(
        owner,
        before.map((e) => ({ ...e, created_at: new Date(e.createdAt).toISOString() })),
        { dryRun: false, actor: 'cli' },
      );
      assert.equal(r.added, before.length);
      assert.deepEqual(await s.export(owner), before);
    }
    const spamtrap = await s.suppress({
      tenantId: 'ten_1',
      address: 'trap@example.net',
      reason: 'complaint',
      scope: 'global',
      sourceEventId: 'evt_3',
    });
    assert.equal(spamtrap.suppressed && spamtrap.entry.tenantId, null, 'a global entry is the operator’s');
    const tenantCheck = await s.check('ten_1', 'c@example.net', { fromDomain: 'mail.example.com', stream: 'marketing' });
    assert.deepEqual(
      tenantCheck.map((e) => [e.scope, e.reason, e.source]),
      [['identity', 'hard_bounce', 'evt_2']],
    );
    assert.deepEqual(
      (await s.check('ten_1', 'g@example.net')).map((e) => e.scope),
      ['global'],
    );
    const history = await s.history('ten_1', { limit: 100 });
    assert.deepEqual(
      history.data.map((c) => c.action),
      ['add', 'add', 'add', 'remove', 'remove', 'remove', 'import', 'import', 'import'],
    );
  },
  test,
);
