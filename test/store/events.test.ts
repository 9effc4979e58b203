import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newId } from '../../src/core/index.js';
import { forEachDialect, openStore } from '../support/dialects.js';
import { exampleEvent } from '../support/events.js';

async function seedTenant(store: Awaited<ReturnType<typeof openStore>>) {
  const id = newId('ten');
  await store.tenants.insert({ id, name: 't', sandbox: false, maxMessageBytes: null, ratePerMinute: null, createdAt: 1 });
  return id;
}

forEachDialect(
  'numbers events per message in append order',
  async (t, dialect) => {
    const store = await openStore(t, dialect);
    const tenantId = await seedTenant(store);
    const m1 = newId('msg');
    const m2 = newId('msg');
    await store.transaction(async (tx) => {
      await tx.events.append(
        [
          exampleEvent('message.accepted', { tenantId, messageId: m1 }),
          exampleEvent('message.accepted', { tenantId, messageId: m2 }),
          exampleEvent('recipient.queued', { tenantId, messageId: m1 }),
        ],
        1000,
      );
    });
    await store.events.append([exampleEvent('recipient.delivered', { tenantId, messageId: m1 })], 2000);
    const timeline = await store.events.forMessage(m1);
    assert.deepEqual(
      timeline.map((e) => [e.type, e.seq]),
      [
        ['message.accepted', 1],
        ['recipient.queued', 2],
        ['recipient.delivered', 3],
      ],
    );
    const page = await store.events.page({ tenantId, limit: 10 });
    assert.equal(page.length, 4);
    assert.deepEqual(
      page.map((e) => Number(e.cursor)),
      [...page.map((e) => Number(e.cursor))].sort((a, b) => a - b),
    );
  },
  test,
);

forEachDialect(
  'a cursor reader never skips an event while 8 writers commit concurrently',
  async (t, dialect) => {
    const store = await openStore(t, dialect);
    const tenantId = await seedTenant(store);
    const writers = 8;
    const perWriter = 40;
    let done = false;
    const seen: number[] = [];
    const reader = (async () => {
      let after = 0;
      for (let i = 0; i < 100_000; i++) {
        const finished = done;
        const page = await store.events.page({ after, limit: 50 });
        for (const e of page) seen.push(Number(e.cursor));
        if (page.length) after = Number(page[page.length - 1]!.cursor);
        else if (finished) return;
        else await new Promise((r) => setImmediate(r));
      }
      throw new Error('reader did not finish in its loop bound');
    })();
    await Promise.all(
      Array.from({ length: writers }, async (_, w) => {
        for (let i = 0; i < perWriter; i++) {
          await store.transaction(async (tx) => {
            // Work before the append widens the window in which commits could reorder.
            await tx.tenants.get(tenantId);
            await tx.events.append(
              [
                exampleEvent('message.accepted', { tenantId, messageId: `msg_w${w}_${i}` }),
                exampleEvent('recipient.queued', { tenantId, messageId: `msg_w${w}_${i}` }),
              ],
              Date.now(),
            );
          });
        }
      }),
    );
    done = true;
    await reader;
    const all = (await store.events.page({ limit: 10_000 })).map((e) => Number(e.cursor));
    assert.equal(all.length, writers * perWriter * 2);
    assert.deepEqual(seen, all, 'the reader saw every event exactly once, in cursor order');
  },
  test,
);

forEachDialect(
  'counts events per minute and type the same way on every dialect',
  async (t, dialect) => {
    const store = await openStore(t, dialect);
    const tenantId = await seedTenant(store);
    const minute = 29_000_000; // an arbitrary whole minute, in minutes since the epoch
    const at = (m: number, s: number) => (minute + m) * 60_000 + s * 1000;
    await store.events.append([exampleEvent('message.accepted', { tenantId, messageId: 'msg_a' })], at(0, 1));
    await store.events.append([exampleEvent('recipient.delivered', { tenantId, messageId: 'msg_a' })], at(0, 59));
    await store.events.append([exampleEvent('recipient.delivered', { tenantId, messageId: 'msg_a' })], at(1, 0));
    await store.events.append([exampleEvent('recipient.bounced', { tenantId, messageId: 'msg_a' })], at(-1, 30));
    const rows = await store.events.minuteCounts(tenantId, at(0, 0), ['message.accepted', 'recipient.delivered', 'recipient.bounced']);
    const key = (r: { minute: number; type: string; count: number }) => `${r.minute - minute} ${r.type} ${r.count}`;
    assert.deepEqual(rows.map(key).sort(), ['0 message.accepted 1', '0 recipient.delivered 1', '1 recipient.delivered 1']);
  },
  test,
);

forEachDialect(
  'filters by time, type and cursor range, and counts what a page would return, the same way on every dialect',
  async (t, dialect) => {
    const store = await openStore(t, dialect);
    const tenantId = await seedTenant(store);
    for (let h = 0; h < 4; h++) {
      await store.events.append(
        [
          exampleEvent('message.accepted', { tenantId, messageId: `msg_${h}` }),
          exampleEvent('recipient.delivered', { tenantId, messageId: `msg_${h}` }),
        ],
        1000 + h * 100,
      );
    }
    const upTo = (await store.events.lastCursor()) - 2; // as if the last two were appended after the export began
    const filter = { tenantId, since: 1100, before: 1400, types: ['recipient.delivered' as const], upTo };
    const page = await store.events.page({ ...filter, limit: 100 });
    assert.deepEqual(
      page.map((e) => e.messageId),
      ['msg_1', 'msg_2'],
    );
    assert.equal(await store.events.count(filter), 2);
    assert.equal(await store.events.count({ tenantId }), 8);
    assert.equal(await store.events.count({ tenantId: 'ten_none' }), 0);
  },
  test,
);
