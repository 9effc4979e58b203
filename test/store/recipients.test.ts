import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newId, type RecipientState } from '../../src/core/index.js';
import type { RecipientRow, Store } from '../../src/store/index.js';
import { forEachDialect, openStore } from '../support/dialects.js';

async function seed(store: Store, n: number, now: number): Promise<RecipientRow[]> {
  const tenantId = newId('ten');
  await store.tenants.insert({ id: tenantId, name: 't', sandbox: false, maxMessageBytes: null, ratePerMinute: null, createdAt: now });
  const messageId = newId('msg');
  await store.messages.insertMany([
    {
      message: {
        id: messageId,
        tenantId,
        stream: 'transactional',
        from: 'a@example.com',
        subject: 's',
        messageIdHeader: '<x@y>',
        size: 3,
        tags: [],
        metadata: {},
        source: 'api',
        sandbox: false,
        createdAt: now,
      },
      raw: Buffer.from('abc'),
    },
  ]);
  const rows: RecipientRow[] = Array.from({ length: n }, (_, i) => ({
    id: newId('rcp'),
    messageId,
    tenantId,
    address: `r${i}@example.net`,
    domain: 'example.net',
    kind: 'to',
    state: 'queued' as RecipientState,
    attempts: 0,
    nextAttemptAt: now + i,
    leaseOwner: null,
    leaseExpiresAt: null,
    lastReply: null,
    createdAt: now,
    updatedAt: now,
  }));
  await store.recipients.insertMany(rows);
  return rows;
}

forEachDialect(
  'claims only due work, under a lease, and settles only with the lease',
  async (t, dialect) => {
    const store = await openStore(t, dialect);
    await seed(store, 5, 1000);
    const claimed = await store.recipients.claimDue({ owner: 'a', now: 1002, leaseMs: 100, limit: 10 });
    assert.equal(claimed.length, 3, 'three are due at t=1002');
    assert.ok(claimed.every((r) => r.state === 'in_flight' && r.leaseOwner === 'a' && r.attempts === 1));
    assert.equal((await store.recipients.claimDue({ owner: 'b', now: 1002, leaseMs: 100, limit: 10 })).length, 0);
    const first = claimed[0]!;
    assert.equal(await store.recipients.settle({ id: first.id, owner: 'b', state: 'delivered', now: 1003 }), false);
    assert.equal(await store.recipients.settle({ id: first.id, owner: 'a', state: 'delivered', now: 1003 }), true);
    // Lease expiry: owner a died; b takes over the other two and a can no longer settle them.
    const taken = await store.recipients.claimDue({ owner: 'b', now: 1200, leaseMs: 100, limit: 10 });
    assert.equal(taken.length, 4);
    assert.equal(await store.recipients.settle({ id: claimed[1]!.id, owner: 'a', state: 'delivered', now: 1201 }), false);
    assert.equal((await store.recipients.get(first.id))?.state, 'delivered');
  },
  test,
);

forEachDialect(
  'a claim takes expired leases, then due retries, then new mail, so a flood of new mail never starves retries',
  async (t, dialect) => {
    const store = await openStore(t, dialect);
    const rows = await seed(store, 50, 1000);
    // Two go out and come back deferred, due at 2000; a third is taken by a node that then dies.
    const [a, b, c] = await store.recipients.claimDue({ owner: 'x', now: 1002, leaseMs: 500, limit: 3 });
    for (const r of [a!, b!]) await store.recipients.settle({ id: r.id, owner: 'x', state: 'deferred', now: 1003, nextAttemptAt: 2000 });
    assert.equal(c!.id, rows[2]!.id);
    // At 5000 all 47 queued are due (since 1003…1049), the retries since 2000, c's lease since 1500.
    const claimed = await store.recipients.claimDue({ owner: 'y', now: 5000, leaseMs: 500, limit: 4 });
    const ids = new Set(claimed.map((r) => r.id));
    assert.equal(claimed.length, 4);
    assert.ok(ids.has(c!.id) && ids.has(a!.id) && ids.has(b!.id), 'the expired lease and both retries are in the first claim');
    assert.ok(ids.has(rows[3]!.id), 'the rest is the earliest new mail');
    assert.ok(claimed.every((r) => r.state === 'in_flight' && r.leaseOwner === 'y'));
    assert.equal(claimed.find((r) => r.id === a!.id)!.attempts, 2);
  },
  test,
);

forEachDialect(
  'concurrent claimers never take the same recipient twice',
  async (t, dialect) => {
    const store = await openStore(t, dialect);
    await seed(store, 300, 0);
    const owners = ['n1', 'n2', 'n3', 'n4'];
    const got = new Map<string, string>();
    await Promise.all(
      owners.map(async (owner) => {
        for (let i = 0; i < 100; i++) {
          const batch = await store.recipients.claimDue({ owner, now: 10_000, leaseMs: 60_000, limit: 7 });
          if (!batch.length) return;
          for (const r of batch) {
            assert.ok(!got.has(r.id), `${r.id} claimed by ${got.get(r.id)} and ${owner}`);
            got.set(r.id, owner);
          }
        }
      }),
    );
    assert.equal(got.size, 300);
  },
  test,
);

forEachDialect(
  'returns leases on shutdown without counting an attempt',
  async (t, dialect) => {
    const store = await openStore(t, dialect);
    const [r] = await seed(store, 1, 0);
    await store.recipients.claimDue({ owner: 'x', now: 1, leaseMs: 1000, limit: 1 });
    assert.equal(await store.recipients.releaseOwned('x', 2), 1);
    const back = await store.recipients.get(r!.id);
    assert.equal(back?.state, 'queued');
    assert.equal(back?.attempts, 0);
  },
  test,
);

forEachDialect(
  'cancels only queued and deferred recipients, and a claim never hands out a cancelled one',
  async (t, dialect) => {
    const store = await openStore(t, dialect);
    const rows = await seed(store, 4, 1000);
    // r0 is in flight, r1 deferred, r2 and r3 still queued.
    const [first, second] = await store.recipients.claimDue({ owner: 'a', now: 1001, leaseMs: 100, limit: 2 });
    assert.ok(await store.recipients.settle({ id: second!.id, owner: 'a', state: 'deferred', now: 1002, nextAttemptAt: 1005 }));
    const cancelled = await store.recipients.cancel(
      rows.map((r) => r.id),
      1003,
    );
    assert.deepEqual(cancelled.map((r) => r.id).sort(), [rows[1]!.id, rows[2]!.id, rows[3]!.id].sort());
    assert.ok(cancelled.every((r) => r.state === 'cancelled' && r.updatedAt === 1003 && r.leaseOwner === null));
    assert.equal((await store.recipients.get(first!.id))?.state, 'in_flight', 'the recipient in flight is left to its worker');
    // At 1050 the deferred retry and the queued ones would be due, and r0's lease has not expired.
    assert.equal((await store.recipients.claimDue({ owner: 'b', now: 1050, leaseMs: 100, limit: 10 })).length, 0);
    assert.deepEqual(await store.recipients.cancel([rows[2]!.id], 1004), [], 'a second cancel changes nothing');
    assert.equal(await store.recipients.countOpen(), 1);

    assert.equal(await store.messages.updateLabels(rows[0]!.messageId, { tags: ['a'], metadata: { k: 'v' } }), true);
    const m = await store.messages.get(rows[0]!.messageId);
    assert.deepEqual([m?.tags, m?.metadata], [['a'], { k: 'v' }]);
    assert.equal(await store.messages.updateLabels('msg_none', { tags: [], metadata: {} }), false);
  },
  test,
);

forEachDialect(
  'a cancel racing claimers never cancels a recipient a claimer took, and loses none',
  async (t, dialect) => {
    const store = await openStore(t, dialect);
    const rows = await seed(store, 300, 0);
    const claimed = new Set<string>();
    const cancelled = new Set<string>();
    const ids = rows.map((r) => r.id);
    await Promise.all([
      ...['n1', 'n2', 'n3'].map(async (owner) => {
        for (let i = 0; i < 100; i++) {
          const batch = await store.recipients.claimDue({ owner, now: 10_000, leaseMs: 60_000, limit: 5 });
          if (!batch.length) return;
          for (const r of batch) claimed.add(r.id);
        }
      }),
      // Cancels in slices, each in its own transaction, while the claimers run.
      (async () => {
        for (let i = 0; i < ids.length; i += 20) {
          const slice = ids.slice(i, i + 20);
          for (const r of await store.transaction((tx) => tx.recipients.cancel(slice, 10_000))) cancelled.add(r.id);
        }
      })(),
    ]);
    t.diagnostic(`claimed ${claimed.size}, cancelled ${cancelled.size}`);
    for (const id of cancelled) assert.ok(!claimed.has(id), `${id} was both cancelled and claimed`);
    assert.equal(claimed.size + cancelled.size, 300, 'every recipient was either claimed or cancelled');
    const states = new Map<string, number>();
    for (const r of await store.recipients.listByMessage(rows[0]!.messageId)) states.set(r.state, (states.get(r.state) ?? 0) + 1);
    assert.deepEqual(Object.fromEntries(states), { in_flight: claimed.size, cancelled: cancelled.size });
  },
  test,
);

forEachDialect(
  'settleMany settles a batch in one call, each row by its own outcome and guard',
  async (t, dialect) => {
    const store = await openStore(t, dialect);
    await seed(store, 5, 1000);
    const [a, b, c, d] = await store.recipients.claimDue({ owner: 'n1', now: 1010, leaseMs: 100, limit: 4 });
    const reply = { code: 451, enhanced: '4.7.1', text: 'try later' };
    const results = await store.recipients.settleMany([
      { id: a!.id, tenantId: a!.tenantId, owner: 'n1', state: 'delivered', now: 1020, lastReply: { code: 250, text: 'ok' } },
      { id: b!.id, tenantId: b!.tenantId, owner: 'n1', state: 'deferred', now: 1020, nextAttemptAt: 5000, lastReply: reply },
      { id: c!.id, owner: 'n1', state: 'queued', now: 1020, refundAttempt: true },
      // Not n1's lease: the guard fails for this row alone.
      { id: d!.id, owner: 'n2', state: 'delivered', now: 1020 },
      // The same recipient again in the batch: settled once.
      { id: a!.id, owner: 'n1', state: 'bounced', now: 1020 },
    ]);
    assert.deepEqual(results, [true, true, true, false, false]);
    const rows = new Map((await store.recipients.listByMessage(a!.messageId)).map((r) => [r.id, r]));
    assert.deepEqual(
      [a, b, c, d].map((r) => {
        const x = rows.get(r!.id)!;
        return [x.state, x.attempts, x.nextAttemptAt, x.leaseOwner, x.lastReply, x.updatedAt];
      }),
      [
        ['delivered', 1, a!.nextAttemptAt, null, { code: 250, text: 'ok' }, 1020],
        ['deferred', 1, 5000, null, reply, 1020],
        ['queued', 0, c!.nextAttemptAt, null, null, 1020],
        ['in_flight', 1, d!.nextAttemptAt, 'n1', null, 1010],
      ],
    );
    assert.deepEqual(await store.recipients.settleMany([]), []);
  },
  test,
);
