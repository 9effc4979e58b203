import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { Kysely, sql } from 'kysely';
import { newId } from '../../src/core/index.js';
import { sqliteDialect } from '../../src/store/dialect.js';
import {
  backupSqlite,
  chooseSqliteDriver,
  createStore,
  nodeSqliteUnavailable,
  openSqlite,
  type SqliteDriverName,
  type Store,
} from '../../src/store/index.js';
import { tempDir } from '../support/dialects.js';

/**
 * The embedded store runs on better-sqlite3 (Node 20, 22) or node:sqlite (Node ≥ 23; docs/deploy.md,
 * Node versions). The same repository round trip runs on each driver this Node can load; the other
 * is listed as skipped with the reason.
 */
const major = Number(process.versions.node.split('.')[0]);
const skipReason: Record<SqliteDriverName, string | false> = {
  // Loading it is enough: the process then aborts at exit (better-sqlite3 12 teardown bug on Node 24).
  'better-sqlite3': major >= 23 ? `better-sqlite3 12 aborts at exit on Node ${process.versions.node}` : false,
  'node:sqlite': nodeSqliteUnavailable() ?? false,
};

test('auto picks better-sqlite3 on Node 20 and 22 and node:sqlite from Node 23 on; an explicit choice wins', () => {
  assert.equal(chooseSqliteDriver('auto', '20.20.2'), 'better-sqlite3');
  assert.equal(chooseSqliteDriver('auto', '22.23.3'), 'better-sqlite3');
  assert.equal(chooseSqliteDriver('auto', '24.21.0'), 'node:sqlite');
  assert.equal(chooseSqliteDriver('node:sqlite', '22.23.3'), 'node:sqlite');
  assert.equal(chooseSqliteDriver('better-sqlite3', '24.21.0'), 'better-sqlite3');
});

test('choosing node:sqlite where Node has none names the setting', {
  skip: !skipReason['node:sqlite'] && 'this Node has node:sqlite',
}, async (t) => {
  await assert.rejects(
    createStore({ sqliteFile: join(tempDir(t), 'x.db'), sqliteDriver: 'node:sqlite' }),
    (e: Error & { code?: string }) => {
      assert.equal(e.code, 'CONFIG_INVALID');
      assert.match(e.message, /store\.sqliteDriver is node:sqlite, but node:sqlite is not built into Node .*it needs Node ≥ 22\.16/);
      return true;
    },
  );
});

async function roundTrip(store: Store) {
  const now = 1_700_000_000_000; // milliseconds: beyond int32, as every stored time is
  const tenantId = newId('ten');
  await store.tenants.insert({ id: tenantId, name: 'driver', sandbox: false, maxMessageBytes: null, ratePerMinute: null, createdAt: now });
  const messageId = newId('msg');
  const raw = Buffer.from([0, 1, 2, 255, 0x0d, 0x0a, 0]);
  await store.messages.insertMany([
    {
      message: {
        id: messageId,
        tenantId,
        stream: 'transactional',
        from: 'a@example.com',
        subject: 'ü',
        messageIdHeader: '<x@y>',
        size: raw.length,
        tags: ['t'],
        metadata: { k: 'v' },
        source: 'api',
        sandbox: false,
        createdAt: now,
      },
      raw,
    },
  ]);
  const rcpt = {
    id: newId('rcp'),
    messageId,
    tenantId,
    address: 'r@example.net',
    domain: 'example.net',
    kind: 'to' as const,
    state: 'queued' as const,
    attempts: 0,
    nextAttemptAt: now,
    leaseOwner: null,
    leaseExpiresAt: null,
    lastReply: null,
    createdAt: now,
    updatedAt: now,
  };
  await store.recipients.insertMany([rcpt]);
  // A transaction that throws leaves nothing behind.
  await assert.rejects(
    store.transaction(async (tx) => {
      await tx.tenants.insert({
        id: newId('ten'),
        name: 'rolled back',
        sandbox: true,
        maxMessageBytes: 1,
        ratePerMinute: 1,
        createdAt: now,
      });
      throw new Error('roll back');
    }),
    /roll back/,
  );
  const claimed = await store.recipients.claimDue({ owner: 'a', now: now + 1, leaseMs: 1000, limit: 10 });
  assert.equal(await store.recipients.settle({ id: rcpt.id, owner: 'a', state: 'delivered', now: now + 2 }), true);
  return {
    tenant: await store.tenants.get(tenantId),
    message: await store.messages.get(messageId),
    raw: await store.messages.body(messageId),
    claimed,
    recipient: await store.recipients.get(rcpt.id),
  };
}

for (const driver of ['better-sqlite3', 'node:sqlite'] as const) {
  test(`the repositories round-trip rows, BLOBs and millisecond times, with the same pragmas [${driver}]`, {
    skip: skipReason[driver],
  }, async (t) => {
    const store = await createStore({ sqliteFile: join(tempDir(t), 'd.db'), sqliteDriver: driver });
    t.after(() => store.close());
    const r = await roundTrip(store);
    assert.equal(r.tenant?.name, 'driver');
    assert.equal(r.tenant?.createdAt, 1_700_000_000_000);
    assert.equal(r.message?.subject, 'ü');
    assert.deepEqual(r.message?.tags, ['t']);
    assert.deepEqual(r.message?.metadata, { k: 'v' });
    // BLOBs come back as Buffers (node:sqlite's Uint8Array is wrapped), rows as plain objects.
    assert.ok(Buffer.isBuffer(r.raw), `raw is ${r.raw?.constructor.name}`);
    assert.deepEqual(r.raw, Buffer.from([0, 1, 2, 255, 0x0d, 0x0a, 0]));
    assert.equal(r.claimed.length, 1);
    assert.equal(Object.getPrototypeOf(r.claimed[0]), Object.prototype);
    assert.equal(r.claimed[0]!.leaseExpiresAt, 1_700_000_001_001);
    assert.equal(r.recipient?.state, 'delivered');
    assert.equal(await store.ping(), true);
    assert.deepEqual(await store.durability(), {
      configured: 'power-loss-safe',
      powerLossSafe: true,
      setting: 'synchronous=1, WAL flushed by the store per commit',
    });
  });

  test(`the same pragmas are set whichever driver opens the file [${driver}]`, { skip: skipReason[driver] }, async (t) => {
    for (const durability of ['power-loss-safe', 'process-crash-safe'] as const) {
      const caps = sqliteDialect(join(tempDir(t), 'p.db'), { durability, driver });
      assert.equal(caps.sqliteDriver, driver);
      const db = new Kysely<unknown>({ dialect: caps.kysely });
      const pragma = async (name: string) =>
        Object.values((await sql.raw<Record<string, unknown>>(`PRAGMA ${name}`).execute(db)).rows[0] ?? {})[0];
      assert.deepEqual(
        {
          journal_mode: await pragma('journal_mode'),
          synchronous: await pragma('synchronous'),
          busy_timeout: await pragma('busy_timeout'),
          foreign_keys: await pragma('foreign_keys'),
        },
        // power-loss-safe: NORMAL, and the store flushes the WAL itself (src/store/wal-sync.ts).
        { journal_mode: 'wal', synchronous: 1, busy_timeout: 10000, foreign_keys: 1 },
      );
      assert.equal(caps.walSync !== undefined, durability === 'power-loss-safe');
      await db.destroy();
    }
  });

  test(`backup copies a store opened with the driver, and the copy is whole [${driver}]`, { skip: skipReason[driver] }, async (t) => {
    const dir = tempDir(t);
    const store = await createStore({ dataDir: dir, sqliteDriver: driver, durability: 'process-crash-safe' });
    t.after(() => store.close());
    await roundTrip(store);
    const dest = join(dir, 'copy.db');
    const r = await backupSqlite({ dataDir: dir, destination: dest, driver });
    assert.equal(r.counts.tenants, 1);
    assert.equal(r.counts.recipients, 1);
    const copy = openSqlite(dest, { driver, readonly: true });
    t.after(() => copy.close());
    const first = (q: string) => Object.values((copy.prepare(q).all([]) as Record<string, unknown>[])[0] ?? {})[0];
    assert.equal(first('PRAGMA journal_mode'), 'delete');
    assert.equal(first('PRAGMA integrity_check'), 'ok');
    // Read straight through the driver: BLOBs are Buffers (node:sqlite's Uint8Array is wrapped).
    const bodies = copy.prepare('SELECT raw FROM message_bodies WHERE length(raw) = ?');
    assert.equal(bodies.reader, true);
    const [row] = bodies.all([7]) as { raw: unknown }[];
    assert.ok(Buffer.isBuffer(row?.raw), `raw is ${(row?.raw as object)?.constructor.name}`);
    assert.deepEqual(row?.raw, Buffer.from([0, 1, 2, 255, 0x0d, 0x0a, 0]));
    assert.equal(copy.prepare('UPDATE message_bodies SET raw = raw WHERE 0').reader, false);
  });
}
