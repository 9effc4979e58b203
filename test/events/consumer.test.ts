import assert from 'node:assert/strict';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import type { SpineEvent } from '../../src/core/index.js';
import { createConsumer } from '../../src/events/index.js';
import { createStore, type DialectName, type Store } from '../../src/store/index.js';
import { type FakeClock, fakeClock } from '../support/clock.js';
import { createPostgresSchema, forEachDialect, openStore, tempDir } from '../support/dialects.js';
import { exampleEvent } from '../support/events.js';

async function appendAlerts(store: Store, n: number, now: number, tag = 'a'): Promise<void> {
  const events = Array.from({ length: n }, (_, i) => exampleEvent('dns.alert', { tenantId: 'ten_1' }, { tag, i }));
  await store.events.append(events, now);
}

function consumer(store: Store, clock: FakeClock, seen: SpineEvent[], extra: Partial<Parameters<typeof createConsumer>[0]> = {}) {
  return createConsumer({
    name: 'test-sink',
    store,
    clock,
    owner: 'node-a',
    batchSize: 7,
    handle: async (events) => {
      seen.push(...events);
    },
    ...extra,
  });
}

/** Two nodes: two stores (two pools on PostgreSQL) over one database. */
async function twoNodes(t: TestContext, dialect: DialectName): Promise<[Store, Store]> {
  if (dialect === 'postgres') {
    const schema = await createPostgresSchema();
    const a = await createStore({ url: schema.url, poolSize: 4 });
    const b = await createStore({ url: schema.url, poolSize: 4 });
    t.after(async () => {
      await Promise.all([a.close(), b.close()]);
      await schema.drop();
    });
    return [a, b];
  }
  const file = join(tempDir(t), 'consumer.db');
  const a = await createStore({ sqliteFile: file });
  const b = await createStore({ sqliteFile: file });
  t.after(() => Promise.all([a.close(), b.close()]));
  return [a, b];
}

forEachDialect(
  'a consumer hands every event once in spine order, and a restarted consumer resumes after its stored position',
  async (t, dialect) => {
    const store = await openStore(t, dialect);
    const clock = fakeClock();
    await appendAlerts(store, 30, clock.now());
    const seen: SpineEvent[] = [];
    const first = consumer(store, clock, seen);
    assert.equal(await first.tick(), true);
    assert.equal(seen.length, 30, 'drains every batch of 7 in one run');
    assert.equal(await first.position(), seen.at(-1)!.cursor);
    await first.stop();

    await appendAlerts(store, 5, clock.now(), 'b');
    const again = consumer(store, clock, seen, { owner: 'node-a-restarted' });
    await again.tick();
    await again.stop();
    assert.equal(seen.length, 35, 'the restarted consumer handed only the 5 new events');
    const cursors = seen.map((e) => Number(e.cursor));
    assert.deepEqual(
      cursors,
      [...cursors].sort((x, y) => x - y),
    );
    assert.equal(new Set(seen.map((e) => e.id)).size, 35);
  },
  test,
);

forEachDialect(
  'a handler that throws leaves the position where it was, and the batch comes again at the next tick',
  async (t, dialect) => {
    const store = await openStore(t, dialect);
    const clock = fakeClock();
    await appendAlerts(store, 10, clock.now());
    const seen: SpineEvent[] = [];
    let failNext = true;
    const c = createConsumer({
      name: 'flaky',
      store,
      clock,
      owner: 'node-a',
      batchSize: 4,
      handle: async (events) => {
        if (failNext && events.some((e) => e.data.i === 5)) {
          failNext = false;
          throw new Error('sink away');
        }
        seen.push(...events);
      },
    });
    await c.tick();
    assert.equal(seen.length, 4, 'the first batch went through, the second failed');
    assert.equal(await c.position(), seen[3]!.cursor);
    await c.tick();
    await c.stop();
    assert.deepEqual(
      seen.map((e) => e.data.i),
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    );
  },
  test,
);

forEachDialect(
  "a handler's returned writes commit with the advance past its batch, or neither does",
  async (t, dialect) => {
    const store = await openStore(t, dialect);
    const clock = fakeClock();
    await appendAlerts(store, 6, clock.now());
    let failNext = true;
    const committed: string[] = [];
    const c = createConsumer({
      name: 'writer',
      store,
      clock,
      owner: 'node-a',
      batchSize: 3,
      handle: async (events) => ({
        async write(tx) {
          // A row per batch, in the consumer's transaction (any table does: this one is at hand).
          await tx.consumerCursors.set(`marker-${events[0]!.data.i}`, 1, clock.now());
          if (failNext && events.some((e) => e.data.i === 4)) {
            failNext = false;
            throw new Error('write failed');
          }
        },
        committed: () => committed.push(String(events[0]!.data.i)),
      }),
    });
    await c.tick();
    assert.deepEqual(committed, ['0'], 'the first batch committed, the second failed');
    const first = await store.events.page({ limit: 3 });
    assert.equal(await c.position(), first[2]!.cursor, 'the position stopped after the first batch');
    assert.equal(await store.consumerCursors.get('marker-3'), undefined, "the failed batch's write was rolled back");
    await c.tick();
    await c.stop();
    assert.deepEqual(committed, ['0', '3']);
    assert.equal(await store.consumerCursors.get('marker-3'), 1);
    assert.equal(await c.position(), (await store.events.lastCursor()).toString());
  },
  test,
);

forEachDialect(
  'a consumer that starts at the end skips the events appended before it first ran',
  async (t, dialect) => {
    const store = await openStore(t, dialect);
    const clock = fakeClock();
    await appendAlerts(store, 3, clock.now(), 'old');
    const seen: SpineEvent[] = [];
    const c = consumer(store, clock, seen, { startAt: 'end' });
    await c.tick();
    await appendAlerts(store, 2, clock.now(), 'new');
    await c.tick();
    await c.stop();
    assert.deepEqual(
      seen.map((e) => e.data.tag),
      ['new', 'new'],
    );
  },
  test,
);

forEachDialect(
  'one node of two runs a consumer; the other resumes from the stored position once the lease lapses',
  async (t, dialect) => {
    const [storeA, storeB] = await twoNodes(t, dialect);
    const clock = fakeClock();
    const seen: SpineEvent[] = [];
    const handled: string[] = [];
    const make = (store: Store, owner: string) =>
      createConsumer({
        name: 'shared',
        store,
        clock,
        owner,
        leaseMs: 10_000,
        handle: async (events) => {
          seen.push(...events);
          handled.push(owner);
        },
      });
    const a = make(storeA, 'node-a');
    const b = make(storeB, 'node-b');
    for (let round = 0; round < 5; round++) {
      await appendAlerts(storeA, 3, clock.now(), `r${round}`);
      const ran = await Promise.all([a.tick(), b.tick()]);
      assert.equal(ran.filter(Boolean).length, 1, `round ${round}: ${JSON.stringify(ran)}`);
      clock.advance(1000);
    }
    const holder = handled[0]!;
    assert.deepEqual(new Set(handled), new Set([holder]));
    assert.equal(seen.length, 15);

    // The holder dies without releasing: after its lease lapses the other node carries on.
    const survivor = holder === 'node-a' ? b : a;
    await appendAlerts(storeB, 4, clock.now(), 'after');
    assert.equal(await survivor.tick(), false, 'the dead holder still has its lease');
    clock.advance(10_000);
    assert.equal(await survivor.tick(), true);
    assert.equal(seen.length, 19, 'no event handed twice, none missed');
    assert.equal(new Set(seen.map((e) => e.id)).size, 19);
    await survivor.stop();
  },
  test,
);

forEachDialect(
  'with concurrent writers the consumer misses no event (cursors become visible in commit order)',
  async (t, dialect) => {
    const [writer, reader] = await twoNodes(t, dialect);
    const clock = fakeClock();
    const seen: SpineEvent[] = [];
    const c = consumer(reader, clock, seen, { batchSize: 50 });
    const writers = Array.from({ length: 8 }, async (_, w) => {
      for (let i = 0; i < 20; i++) await appendAlerts(writer, 3, clock.now(), `w${w}`);
    });
    let done = false;
    const all = Promise.all(writers).then(() => {
      done = true;
    });
    for (let i = 0; i < 2000 && !done; i++) await c.tick();
    await all;
    await c.tick();
    await c.stop();
    assert.equal(seen.length, 8 * 20 * 3);
    assert.equal(new Set(seen.map((e) => e.id)).size, seen.length);
  },
  test,
);
