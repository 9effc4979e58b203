import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import type { NewEvent, SpineEvent } from '../../src/core/index.js';
import { createEventTail } from '../../src/store/event-tail.js';
import { createStore } from '../../src/store/index.js';
import { encryptionFor, openEncryptedStore, seed } from '../protection/seed.js';
import { createPostgresSchema, postgresSkipReason, postgresUrl, tempDir } from '../support/dialects.js';

/**
 * The spine's shared tail (store/event-tail.ts): readers at different positions, with events
 * appended between their reads, each get exactly the page the database would give them, while
 * those behind the head are served from memory; a forget, a moved epoch or the time bound sends
 * them back to the database.
 */

const event = (cursor: number): SpineEvent => ({
  id: `evt_${cursor}`,
  cursor: String(cursor),
  type: 'message.accepted',
  tenantId: 'ten_A',
  messageId: null,
  recipientId: null,
  seq: 0,
  at: '2026-12-07T00:00:00.000Z',
  schemaVersion: 1,
  data: { n: cursor },
});

/** A spine in memory: cursors with gaps (PostgreSQL's sequences skip), read as the store's page would. */
function spine() {
  const events: SpineEvent[] = [];
  let next = 1;
  const stats = { fetches: 0, rows: 0 };
  return {
    stats,
    append(n: number, gap = 0) {
      for (let i = 0; i < n; i++) {
        events.push(event(next));
        next += 1 + (i % 3 === 0 ? gap : 0);
      }
    },
    direct: (after: number, limit: number) => events.filter((e) => Number(e.cursor) > after).slice(0, limit),
    async fetch(after: number, limit: number) {
      stats.fetches++;
      await new Promise((r) => setImmediate(r));
      const page = events.filter((e) => Number(e.cursor) > after).slice(0, limit);
      stats.rows += page.length;
      // Fresh objects, as a database read makes.
      return page.map((e) => ({ ...e, data: { ...e.data } }));
    },
  };
}

const ids = (page: SpineEvent[]) => page.map((e) => e.cursor).join(',');

test('readers at different positions get what the database would give, and the ones behind read from memory', async () => {
  const s = spine();
  const tail = createEventTail({ max: 400, ttlMs: 60_000, now: () => 0 });
  const positions = [0, 0, 0];
  let seed = 7;
  const rand = (n: number) => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed % n;
  };
  let served = 0;
  // A page handed out stays as it was: later reads must not grow the caller's array.
  const handedOut: { page: SpineEvent[]; ids: string }[] = [];
  for (let step = 0; step < 600; step++) {
    if (rand(3) === 0) s.append(1 + rand(40), rand(2));
    const r = rand(3);
    const limit = 1 + rand(120);
    const expected = s.direct(positions[r]!, limit);
    const page = await tail.page(positions[r]!, limit, s.fetch);
    assert.equal(ids(page), ids(expected), `step ${step}, reader ${r} after ${positions[r]} limit ${limit}`);
    served += page.length;
    handedOut.push({ page, ids: ids(page) });
    if (page.length) positions[r] = Number(page.at(-1)!.cursor);
  }
  assert.ok(served > 2_000, `readers moved (${served} events served)`);
  for (const [i, h] of handedOut.entries()) assert.equal(ids(h.page), h.ids, `page ${i} changed after it was handed out`);
  // Three readers over the same events: without the tail the database would give every one to each.
  assert.ok(s.stats.rows < served * 0.6, `${s.stats.rows} rows read from the database for ${served} served`);
});

test('concurrent readers: pages stay exact when reads overlap', async () => {
  const s = spine();
  s.append(300, 1);
  const tail = createEventTail({ max: 1_000, ttlMs: 60_000, now: () => 0 });
  const reader = async (limit: number) => {
    let after = 0;
    for (;;) {
      const page = await tail.page(after, limit, s.fetch);
      assert.equal(ids(page), ids(s.direct(after, limit)));
      if (!page.length) return;
      after = Number(page.at(-1)!.cursor);
      if (after % 5 === 0) s.append(3);
    }
  };
  await Promise.all([reader(50), reader(17), reader(120), reader(1)]);
});

test('forget, a moved epoch and the time bound send readers back to the database', async () => {
  const s = spine();
  s.append(20);
  let t = 0;
  let epoch = 0;
  const tail = createEventTail({ max: 100, ttlMs: 1_000, now: () => t, epoch: () => epoch });
  const readAll = () => tail.page(0, 100, s.fetch);

  await readAll();
  const fetches = () => s.stats.fetches;
  let before = fetches();
  await readAll();
  // Covered to its last event: only the (empty) read past it goes to the database.
  assert.equal(fetches() - before, 1);

  tail.forget();
  before = fetches();
  const page = await readAll();
  assert.equal(s.stats.rows > 20, true);
  assert.equal(page.length, 20);
  assert.equal(fetches() - before, 1);

  epoch++;
  before = s.stats.rows;
  await readAll();
  assert.equal(s.stats.rows - before, 20, 'an epoch change drops what is held');

  t += 1_001;
  before = s.stats.rows;
  await readAll();
  assert.equal(s.stats.rows - before, 20, 'events past their time are read again');

  // A read in flight when forget runs does not store what it read.
  tail.forget();
  const inFlight = tail.page(0, 100, async (after, limit) => {
    const page = await s.fetch(after, limit);
    tail.forget();
    return page;
  });
  assert.equal((await inFlight).length, 20);
  before = s.stats.rows;
  await readAll();
  assert.equal(s.stats.rows - before, 20);
});

test('a long run: events stay held for their time, however often the front is trimmed', async () => {
  const s = spine();
  let t = 0;
  const tail = createEventTail({ max: 5_000, ttlMs: 1_000, now: () => t });
  let head = 0;
  for (let step = 0; step < 60; step++) {
    t += 100;
    s.append(100);
    const page = await tail.page(head, 1_000, s.fetch);
    head = Number(page.at(-1)!.cursor);
    // A reader 500 ms behind: everything it needs was read within the time bound.
    const behind = Math.max(0, head - 500);
    const before = s.stats.rows;
    const late = await tail.page(behind, 1_000, s.fetch);
    assert.equal(ids(late), ids(s.direct(behind, 1_000)));
    if (step >= 5) assert.equal(s.stats.rows - before, 0, `step ${step}: served from memory`);
  }
});

test('events held are frozen: a reader cannot change what the others read', async () => {
  const s = spine();
  s.append(3);
  const tail = createEventTail({ now: () => 0 });
  const [e] = await tail.page(0, 10, s.fetch);
  assert.throws(() => {
    (e as { type: string }).type = 'x';
  }, TypeError);
  assert.throws(() => {
    e!.data.n = 9;
  }, TypeError);
});

test("the store's spine readers see an erasure and a shred at once, though they share recent events", async (t) => {
  const store = await openEncryptedStore(tempDir(t));
  t.after(() => store.close());
  const [a] = await seed(store, 'ten_A', 1);
  // What consumers call: the whole spine after a position, held by the tail for the next reader.
  const read = async () => JSON.stringify((await store.events.page({ after: 0, limit: 10 }))[0]?.data);
  assert.ok((await read()).includes(a!.to));
  const hash = await store.retention.addressHash('ten_A', a!.to);
  await store.retention.eraseAddress('ten_A', a!.to, hash, () => false, Date.now());
  const erased = await read();
  assert.equal(erased.includes(a!.to), false, erased);

  await store.encryption.shredTenant('ten_A', Date.now());
  assert.match(await read(), /unreadable/);
});

test('on PostgreSQL, a reader between an erasure and its commit does not keep the events as they were', {
  skip: postgresUrl ? false : postgresSkipReason,
}, async (t) => {
  const schema = await createPostgresSchema();
  const store = await createStore({ url: schema.url, poolSize: 4, encryption: encryptionFor(tempDir(t)) });
  t.after(async () => {
    await store.close();
    await schema.drop();
  });
  const [a] = await seed(store, 'ten_A', 1);
  const read = async () => JSON.stringify((await store.events.page({ after: 0, limit: 10 }))[0]?.data);
  const hash = await store.retention.addressHash('ten_A', a!.to);
  await store.transaction(async (tx) => {
    await tx.retention.eraseAddress('ten_A', a!.to, hash, () => false, Date.now());
    // Another connection still sees the committed rows (SQLite's one connection would wait instead):
    // this read fills the tail with them after the erasure's own forget.
    assert.ok((await read()).includes(a!.to));
  });
  const after = await read();
  assert.equal(after.includes(a!.to), false, after);
});

test('events published by their appender are served as read, only where they continue what is held', async () => {
  const s = spine();
  let epoch = 0;
  const tail = createEventTail({ now: () => 0, epoch: () => epoch });
  // What an appender hands over: copies of exactly the events in (base, base + n].
  const publish = (mark: number, base: number, n: number) => {
    s.append(n);
    tail.publish(
      mark,
      base,
      s.direct(base, n).map((e) => ({ ...e, data: { ...e.data } })),
    );
  };
  const readAll = async (after = 0) => {
    const before = s.stats.rows;
    const page = await tail.page(after, 1_000, s.fetch);
    assert.equal(ids(page), ids(s.direct(after, 1_000)));
    return s.stats.rows - before;
  };

  publish(tail.mark(), 0, 10);
  assert.equal(await readAll(), 0, 'nothing held: a publish starts the tail');
  publish(tail.mark(), 10, 5);
  assert.equal(await readAll(), 0, 'a publish that continues the tail extends it');

  s.append(5); // another writer's events (16–20), never published
  publish(tail.mark(), 20, 5);
  assert.equal(await readAll(), 10, 'a publish past a gap is not held: 16–25 are read');

  const stale = tail.mark();
  tail.forget();
  publish(stale, 25, 5);
  assert.equal(await readAll(25), 5, 'a forget since the mark voids the publish');

  publish(tail.mark(), 30, 5);
  epoch++;
  assert.equal(await readAll(30), 5, 'a moved epoch drops what was published with the rest');
  publish(tail.mark(), 35, 5);
  assert.equal(await readAll(35), 0);
  // A tail started by a publish covers only what follows its base.
  tail.forget();
  publish(tail.mark(), 40, 5);
  assert.equal(await readAll(0), 45);
  assert.equal(await readAll(40), 0);
});

test("the store's appends reach its readers through the tail once committed, never when rolled back", async (t) => {
  const dir = tempDir(t);
  const store = await openEncryptedStore(dir);
  t.after(() => store.close());
  await seed(store, 'ten_A', 2);
  const events = (n: number, tag: string) =>
    Array.from({ length: n }, (_, i) => ({
      type: 'message.accepted',
      tenantId: 'ten_A',
      messageId: `msg_${tag}${i % 2}`,
      // What JSON does not keep (an undefined member, a Date) shows whether readers get the stored form.
      data: { tag, i, note: `appended ${tag}`, gone: undefined, when: new Date(i) },
    })) as unknown as NewEvent[];
  // Not a whole-spine page, so never served from the tail: the database's own answer.
  const direct = (after: number, limit: number) => store.events.page({ after, limit, upTo: Number.MAX_SAFE_INTEGER });
  const positions = [0, 0, 0];
  const readers = async () => {
    for (const [r, after] of positions.entries()) {
      const limit = 3 + r * 4;
      const page = await store.events.page({ after, limit });
      assert.deepStrictEqual(page, await direct(after, limit));
      if (page.length) positions[r] = Number(page[page.length - 1]!.cursor);
    }
  };
  const raw = new Database(join(dir, 'postwarden.db'));
  t.after(() => raw.close());
  for (let round = 0; round < 12; round++) {
    // The newest rows deleted (by retention): AUTOINCREMENT still goes on above them, so the next
    // cursors do not follow the last one left.
    if (round % 5 === 4) {
      const newest = (await direct(0, 1_000)).slice(-2).map((e) => Number(e.cursor));
      await store.retention.deleteEvents(newest);
    }
    // Appended outside a transaction, not yet read: the next append does not follow what is held.
    if (round % 3 === 0) await store.events.append(events(2, `out${round}`), Date.now());
    // Appended and deleted behind the store's back before anyone read them: the next cursors skip.
    if (round % 4 === 1) {
      await store.events.append(events(2, `gone${round}`), Date.now());
      raw.prepare('delete from events where id in (select id from events order by cursor desc limit 2)').run();
    }
    await store.transaction((tx) => tx.events.append(events(1 + (round % 4), `r${round}`), Date.now()));
    await assert.rejects(
      store.transaction(async (tx) => {
        await tx.events.append(events(2, `rolled${round}`), Date.now());
        throw new Error('roll back');
      }),
      /roll back/,
    );
    await readers();
  }
  for (let i = 0; i < 20; i++) await readers();
  const all = await store.events.page({ after: 0, limit: 1_000 });
  assert.equal(JSON.stringify(all).includes('rolled'), false);
  assert.deepStrictEqual(all, await direct(0, 1_000));

  // Served from memory, not read back: a row rewritten behind the store's back (as another process
  // could, seen within the tail's time bound) still reads as appended through the tail.
  await store.transaction((tx) => tx.events.append(events(1, 'held'), Date.now()));
  const last = (await direct(0, 1_000)).at(-1)!;
  raw.prepare('update events set type = ? where cursor = ?').run('message.queued', Number(last.cursor));
  const held = (await store.events.page({ after: Number(last.cursor) - 1, limit: 1 }))[0]!;
  assert.equal(held.type, 'message.accepted');
  assert.equal((await direct(Number(last.cursor) - 1, 1))[0]!.type, 'message.queued');
});
