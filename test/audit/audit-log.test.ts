import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import type { Actor } from '../../src/audit/index.js';
import { canonicalJson, createAuditLog, entryHash, GENESIS_HASH, REDACTED, verifyAudit } from '../../src/audit/index.js';
import { createStore, type Store } from '../../src/store/index.js';
import { fakeClock } from '../support/clock.js';
import { createPostgresSchema, forEachDialect, openStore } from '../support/dialects.js';

const actor: Actor = { kind: 'api_key', id: 'key_1', tenantId: 'ten_a', ip: '127.0.0.1', userAgent: 'test', keyId: 'key_1' };

test('canonical JSON sorts keys at every depth and leaves out undefined members', () => {
  assert.equal(canonicalJson({ b: 1, a: { d: [1, 'x', null], c: undefined, b: true } }), '{"a":{"b":true,"d":[1,"x",null]},"b":1}');
  assert.equal(canonicalJson({ n: Number.NaN }), '{"n":null}');
});

forEachDialect(
  'entries chain per tenant: seq from 1, each prev_hash the previous hash, and verify passes',
  async (t, dialect) => {
    const store = await openStore(t, dialect);
    const audit = createAuditLog({ clock: fakeClock(), masterKey: randomBytes(32), checkpointEvery: 2 });
    const a1 = await store.transaction((tx) =>
      audit.append(tx, { actor, action: 'x.created', resource: { type: 'x', id: 'x1' }, after: { n: 1 } }),
    );
    const b1 = await store.transaction((tx) =>
      audit.append(tx, { actor, tenantId: 'ten_b', action: 'x.created', resource: { type: 'x', id: 'x2' } }),
    );
    const a2 = await store.transaction((tx) =>
      audit.append(tx, { actor, action: 'x.updated', resource: { type: 'x', id: 'x1' }, before: { n: 1 }, after: { n: 2 }, reason: 'why' }),
    );
    const p1 = await store.transaction((tx) =>
      audit.append(tx, {
        actor: { kind: 'cli', id: 'root', tenantId: null },
        action: 'tenant.created',
        resource: { type: 'tenant', id: 'ten_c' },
      }),
    );
    assert.deepEqual([a1.chain, a1.seq, a1.prevHash], ['ten_a', 1, GENESIS_HASH]);
    assert.deepEqual([a2.seq, a2.prevHash], [2, a1.hash]);
    assert.deepEqual([b1.chain, b1.seq], ['ten_b', 1]);
    assert.deepEqual([p1.chain, p1.seq, p1.tenantId], ['platform', 1, null]);
    assert.equal(a2.hash, entryHash(a2));
    const report = await verifyAudit(store);
    assert.equal(report.ok, true, JSON.stringify(report));
    assert.deepEqual(
      report.chains.map((c) => [c.chain, c.entries, c.checkpoints]),
      [
        ['platform', 1, 0],
        ['ten_a', 2, 1],
        ['ten_b', 1, 0],
      ],
    );
  },
  test,
);

test('members named like secrets are stored redacted', async (t) => {
  const store = await openStore(t, 'sqlite');
  const audit = createAuditLog({ clock: fakeClock() });
  const e = await store.transaction((tx) =>
    audit.append(tx, {
      actor,
      action: 'webhook_endpoint.created',
      resource: { type: 'webhook_endpoint', id: 'wh_1' },
      after: { url: 'https://x.example', secret: 'whsec_abc', nested: { password: 'p', private_key: 'k', keep: 1 } },
    }),
  );
  assert.deepEqual(JSON.parse(e.afterJson!), {
    url: 'https://x.example',
    secret: REDACTED,
    nested: { password: REDACTED, private_key: REDACTED, keep: 1 },
  });
  assert.ok(!JSON.stringify(e).includes('whsec_abc'));
});

test('a failing append rolls back the change made in its transaction', async (t) => {
  const store = await openStore(t, 'sqlite');
  const clock = fakeClock();
  const audit = createAuditLog({ clock });
  await assert.rejects(
    store.transaction(async (tx) => {
      await tx.tenants.insert({
        id: 'ten_x',
        name: 'X',
        sandbox: false,
        maxMessageBytes: null,
        ratePerMinute: null,
        createdAt: clock.now(),
        alignmentPolicy: 'warn',
      });
      // An action is required: the append throws, and so must the whole change.
      await audit.append(tx, { actor, action: '', resource: { type: 'tenant', id: 'ten_x' } });
    }),
  );
  assert.equal(await store.tenants.get('ten_x'), undefined);
  assert.deepEqual(await store.audit.heads(), []);
});

forEachDialect(
  'concurrent appends to one chain from two stores never fork it',
  async (t, dialect) => {
    // Two pools on one PostgreSQL schema play two nodes; SQLite has one writer, so one store.
    let first: Store;
    let second: Store;
    if (dialect === 'postgres') {
      const schema = await createPostgresSchema();
      first = await createStore({ url: schema.url, poolSize: 6 });
      second = await createStore({ url: schema.url, poolSize: 6 });
      t.after(async () => {
        await first.close();
        await second.close();
        await schema.drop();
      });
    } else {
      first = await openStore(t, dialect);
      second = first;
    }
    const audit = createAuditLog({ clock: fakeClock(), masterKey: randomBytes(32), checkpointEvery: 10 });
    const n = 40;
    await Promise.all(
      Array.from({ length: n }, (_, i) =>
        (i % 2 ? second : first).transaction((tx) =>
          audit.append(tx, { actor, action: 'x.touched', resource: { type: 'x', id: String(i) } }),
        ),
      ),
    );
    const rows = await first.audit.page({ chain: 'ten_a', limit: 100 });
    assert.deepEqual(
      rows.map((r) => r.seq),
      Array.from({ length: n }, (_, i) => i + 1),
    );
    const report = await verifyAudit(first);
    assert.equal(report.ok, true, JSON.stringify(report));
    assert.equal(report.chains[0]?.checkpoints, 4);
  },
  test,
);
