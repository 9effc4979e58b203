import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { nanos } from 'nats';
import type { EventType } from '../../src/core/index.js';
import { createNatsSink, type NatsSink } from '../../src/events/index.js';
import type { Store } from '../../src/store/index.js';
import { sendAndDeliver } from '../feedback/documents.js';
import { type FakeClock, fakeClock } from '../support/clock.js';
import { forEachDialect, openStore } from '../support/dialects.js';
import { exampleEvent } from '../support/events.js';
import { natsStreamOrSkip, natsUrl, readStream } from '../support/nats.js';
import { startPlatform } from '../support/platform.js';

/**
 * Done-means 5 of #15: a JetStream consumer sees every event exactly once across node restarts,
 * including a crash after a batch was published but before the stored position moved past it.
 */

const types: EventType[] = ['message.accepted', 'recipient.queued', 'recipient.delivered', 'recipient.bounced', 'dns.alert'];
const leaseMs = 10_000;

async function append(store: Store, n: number, from: number, now: number): Promise<void> {
  const events = Array.from({ length: n }, (_, k) => {
    const i = from + k;
    const type = types[i % types.length]!;
    const tenantId = i % 2 ? 'ten_odd' : 'ten_even';
    return exampleEvent(type, { tenantId, messageId: type === 'dns.alert' ? null : `msg_${i}` }, { n: i });
  });
  await store.events.append(events, now);
}

/** A node's sink; polling is left to the test (ticks), the lease runs on the fake clock. */
function sinkOf(t: TestContext, store: Store, clock: FakeClock, owner: string, s: { stream: string; subjectPrefix: string }): NatsSink {
  const sink = createNatsSink({ url: natsUrl, ...s, store, clock, owner, batchSize: 16, pollMs: 3_600_000, leaseMs });
  t.after(() => sink.stop());
  return sink;
}

/** Ticks until the sink's stored position reaches the spine's end (bounded in count and time). */
async function drained(store: Store, sink: NatsSink): Promise<void> {
  const end = String(await store.events.lastCursor());
  for (let i = 0; i < 200 && (await sink.consumer.position()) !== end; i++) {
    await sink.consumer.tick();
    if ((await sink.consumer.position()) !== end) await new Promise((r) => setTimeout(r, 25));
  }
  assert.equal(await sink.consumer.position(), end, 'the sink published up to the end of the spine');
}

/** The store as seen by a node that dies between JetStream's ack and moving its position. */
function crashingBeforeAdvance(store: Store): Store & { crashed: () => boolean } {
  let crashed = false;
  return Object.assign(Object.create(store) as Store, {
    consumerCursors: {
      ...store.consumerCursors,
      advance: async () => {
        crashed = true;
        throw new Error('the node died before its position moved');
      },
    },
    crashed: () => crashed,
  });
}

forEachDialect(
  'a JetStream consumer sees every event exactly once across a crash after publish and a clean restart',
  async (t, dialect) => {
    const n = await natsStreamOrSkip(t);
    if (!n) return;
    const { nc, ...s } = n;
    const store = await openStore(t, dialect);
    const clock = fakeClock();
    await append(store, 40, 0, clock.now());
    // A duplicate window far shorter than a restart, so the restart cannot lean on Nats-Msg-Id.
    const jsm = await nc.jetstreamManager();
    await jsm.streams.add({ name: s.stream, subjects: [`${s.subjectPrefix}.>`], duplicate_window: nanos(100) });

    // Node A publishes its first batches and dies before recording any of them.
    const crashing = crashingBeforeAdvance(store);
    const a = sinkOf(t, crashing, clock, 'node-a', s);
    await a.start();
    for (let i = 0; i < 200 && !crashing.crashed(); i++) {
      await a.consumer.tick();
      if (!crashing.crashed()) await new Promise((r) => setTimeout(r, 25));
    }
    assert.ok(crashing.crashed(), 'node A published a batch and crashed before advancing');
    assert.equal(await a.consumer.position(), '0');
    const inStreamAfterCrash = (await readStream(nc, s.stream)).length;
    assert.ok(inStreamAfterCrash > 0, 'the batch reached the stream before the crash');

    // Node B takes over once A's lease lapsed, after the duplicate window has passed.
    await new Promise((r) => setTimeout(r, 300));
    await append(store, 25, 40, clock.now());
    clock.advance(leaseMs + 1);
    const b = sinkOf(t, store, clock, 'node-b', s);
    await b.start();
    await drained(store, b);

    // A clean restart: B stops, C resumes from the stored position.
    await b.stop();
    await append(store, 15, 65, clock.now());
    const c = sinkOf(t, store, clock, 'node-c', s);
    await c.start();
    await drained(store, c);

    const seen = await readStream(nc, s.stream);
    const spine = await store.events.page({ limit: 1000 });
    assert.equal(spine.length, 80);
    assert.deepEqual(
      seen.map((m) => m.msgId),
      spine.map((e) => e.id),
      'every event once, in spine order',
    );
    assert.deepEqual(
      seen.map((m) => m.subject),
      spine.map((e) => `${s.subjectPrefix}.${e.tenantId}.${e.type}`),
    );
    assert.deepEqual(
      seen.map((m) => [m.body.id, m.body.cursor, m.body.type, m.body.schema_version, m.cursor]),
      spine.map((e) => [e.id, e.cursor, e.type, e.schemaVersion, e.cursor]),
    );
  },
  test,
);

forEachDialect(
  'a batch published again after a failed position update is dropped by Nats-Msg-Id',
  async (t, dialect) => {
    const n = await natsStreamOrSkip(t);
    if (!n) return;
    const { nc, ...s } = n;
    const store = await openStore(t, dialect);
    const clock = fakeClock();
    await append(store, 10, 0, clock.now());
    // The position fails to move twice: the same node publishes the same batch three times.
    let failures = 2;
    const flaky = Object.assign(Object.create(store) as Store, {
      consumerCursors: {
        ...store.consumerCursors,
        advance: async (name: string, position: number, now: number) => {
          if (failures-- > 0) throw new Error('database away');
          return store.consumerCursors.advance(name, position, now);
        },
      },
    });
    const sink = sinkOf(t, flaky, clock, 'node-a', s);
    await sink.start();
    await drained(store, sink);
    assert.ok(failures < 0, 'the batch was published three times');
    const jsm = await nc.jetstreamManager();
    assert.equal((await jsm.streams.info(s.stream)).state.messages, 10, 'JetStream kept one copy of each event');
    const seen = await readStream(nc, s.stream);
    assert.equal(new Set(seen.map((m) => m.msgId)).size, 10);
  },
  test,
);

test('a node configured with events.nats publishes what it accepts and delivers', { timeout: 60_000 }, async (t) => {
  const n = await natsStreamOrSkip(t);
  if (!n) return;
  const p = await startPlatform(t, { config: { events: { nats: { url: natsUrl, stream: n.stream, subjectPrefix: n.subjectPrefix } } } });
  const sent = await sendAndDeliver(p, ['dora@example.org']);
  const jsm = await n.nc.jetstreamManager();
  const count = async () => (await jsm.streams.info(n.stream).catch(() => undefined))?.state.messages ?? 0;
  for (let i = 0; i < 200 && (await count()) < 3; i++) await new Promise((r) => setTimeout(r, 50));
  const seen = await readStream(n.nc, n.stream);
  assert.deepEqual(
    seen.map((m) => [m.subject, m.body.message_id]),
    ['message.accepted', 'recipient.queued', 'recipient.delivered'].map((type) => [`${n.subjectPrefix}.${p.tenantId}.${type}`, sent.id]),
  );
});
