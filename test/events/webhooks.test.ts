import assert from 'node:assert/strict';
import { test } from 'node:test';
import { forEachDialect } from '../support/dialects.js';
import { orderViolation, receivedEvents, TENANT, webhookHarness } from './webhook-harness.js';

const HOUR = 3_600_000;

forEachDialect(
  'a receiver answering 500 for the first hour loses nothing: after recovery every event arrives, verified, in per-message order',
  async (t, dialect) => {
    const h = await webhookHarness(t, dialect);
    const { endpoint, secret } = await h.webhooks.endpoints.create(TENANT, { url: h.receiver.url });
    h.receiver.secrets.push(secret);
    const start = h.clock.now();
    h.receiver.answer = () => (h.clock.now() < start + HOUR ? 500 : 200);
    await h.appendMessages(100);
    const all = (await h.store.events.page({ limit: 10_000 })).map((e) => e.id);
    assert.equal(all.length, 300);
    for (let i = 0; i < 300 && new Set(receivedEvents(h.receiver).map((e) => e.id)).size < all.length; i++) {
      await h.pump();
      h.clock.advance(60_000);
    }
    const got = receivedEvents(h.receiver);
    assert.deepEqual(new Set(got.map((e) => e.id)), new Set(all), 'every event arrived after recovery');
    assert.ok(
      h.receiver.received.some((r) => r.status === 500),
      'the receiver did refuse for a while',
    );
    assert.ok(
      h.receiver.accepted().every((r) => r.verifiedBy.includes(0)),
      'every accepted POST verified with standardwebhooks',
    );
    assert.equal(orderViolation(h.receiver), undefined);
    assert.ok(
      h.receiver.received.every((r) => r.webhookId === (r.body as { id: string }).id),
      'webhook-id is the event id',
    );
    assert.equal((await h.webhooks.endpoints.get(TENANT, endpoint.id)).state, 'enabled');
    assert.equal(await h.store.webhookDeliveries.countOpen(), 0);
  },
  test,
);

forEachDialect(
  "one message's failing event holds back only that message's later events",
  async (t, dialect) => {
    const h = await webhookHarness(t, dialect);
    const { secret } = await h.webhooks.endpoints.create(TENANT, { url: h.receiver.url });
    h.receiver.secrets.push(secret);
    const [stuck, free] = await h.appendMessages(2);
    h.receiver.answer = (_req, body) => (JSON.parse(body).message_id === stuck ? 503 : 200);
    await h.pump();
    h.clock.advance(10_000);
    await h.pump();
    const got = receivedEvents(h.receiver);
    assert.deepEqual(
      got.filter((e) => e.message_id === free).map((e) => e.seq),
      [1, 2, 3],
    );
    const stuckSeen = receivedEvents(h.receiver, false).filter((e) => e.message_id === stuck);
    assert.ok(stuckSeen.length >= 2 && stuckSeen.every((e) => e.seq === 1), 'only the first event of the stuck message was tried');
  },
  test,
);

forEachDialect(
  'a receiver down past the retry horizon gets its endpoint disabled with a webhook.disabled event',
  async (t, dialect) => {
    const h = await webhookHarness(t, dialect, { retryHours: 2 });
    const { endpoint, secret } = await h.webhooks.endpoints.create(TENANT, { url: h.receiver.url });
    h.receiver.secrets.push(secret);
    h.receiver.answer = () => 500;
    await h.appendMessages(3);
    for (let i = 0; i < 100; i++) {
      await h.pump();
      if ((await h.webhooks.endpoints.get(TENANT, endpoint.id)).state === 'disabled') break;
      h.clock.advance(5 * 60_000);
    }
    const after = await h.webhooks.endpoints.get(TENANT, endpoint.id);
    assert.equal(after.state, 'disabled');
    assert.match(after.disabledReason ?? '', /failing for 2 h/);
    assert.equal(await h.store.webhookDeliveries.countOpen(endpoint.id), 0, 'its open deliveries were given up');
    const disabled = await h.store.events.page({ types: ['webhook.disabled'], limit: 10 });
    assert.equal(disabled.length, 1);
    assert.equal(disabled[0]!.data.webhook_id, endpoint.id);
    assert.equal(disabled[0]!.tenantId, TENANT);
    const attempts = await h.webhooks.endpoints.attempts(TENANT, endpoint.id, { limit: 5 });
    assert.equal(attempts.data[0]!.status, 500);
    assert.equal(attempts.data[0]!.outcome, 'failed');
    assert.equal(attempts.data[0]!.responseExcerpt, 'receiver says no');
    // Retries were spread out (backoff), not one per pump.
    const tries = h.receiver.received.length;
    assert.ok(tries < 40, `${tries} POSTs over 2 h`);
  },
  test,
);

forEachDialect(
  'after rotate-secret both secrets verify during the grace period, and only the new one after it',
  async (t, dialect) => {
    const h = await webhookHarness(t, dialect);
    const { endpoint, secret } = await h.webhooks.endpoints.create(TENANT, { url: h.receiver.url });
    h.receiver.secrets.push(secret);
    await h.appendMessages(1, ['recipient.queued']);
    await h.pump();
    const rotated = await h.webhooks.endpoints.rotateSecret(TENANT, endpoint.id);
    assert.notEqual(rotated.secret, secret);
    assert.match(rotated.secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
    h.receiver.secrets.push(rotated.secret);
    h.clock.advance(23 * HOUR);
    await h.appendMessages(1, ['recipient.queued']);
    await h.pump();
    h.clock.advance(HOUR + 60_000);
    await h.appendMessages(1, ['recipient.queued']);
    await h.pump();
    assert.deepEqual(
      h.receiver.received.map((r) => r.verifiedBy),
      [[0], [0, 1], [1]],
    );
    assert.equal(h.receiver.received[1]!.raw.length > 0, true);
  },
  test,
);

forEachDialect(
  'a replay of a time range re-delivers exactly the matching events with their original ids',
  async (t, dialect) => {
    const h = await webhookHarness(t, dialect);
    const { endpoint, secret } = await h.webhooks.endpoints.create(TENANT, { url: h.receiver.url });
    h.receiver.secrets.push(secret);
    await h.appendMessages(5);
    h.clock.advance(HOUR);
    const from = new Date(h.clock.now()).toISOString();
    await h.appendMessages(7, ['recipient.queued', 'recipient.bounced']);
    h.clock.advance(HOUR);
    const to = new Date(h.clock.now()).toISOString();
    await h.appendMessages(4);
    await h.pump();
    assert.equal(h.receiver.accepted().length, 15 + 14 + 12);
    const window = (await h.store.events.page({ limit: 1000 })).filter((e) => e.at >= from && e.at < to);
    assert.equal(window.length, 14);

    const before = h.receiver.received.length;
    const r = await h.webhooks.endpoints.replay(TENANT, endpoint.id, { from, to });
    assert.equal(r.queued, 14);
    await h.pump();
    const replayed = h.receiver.received.slice(before);
    assert.deepEqual(replayed.map((x) => x.webhookId).sort(), window.map((e) => e.id).sort());
    assert.ok(replayed.every((x) => x.verifiedBy.length === 1 && (x.body as { id: string }).id === x.webhookId));
    assert.equal(orderViolation(h.receiver), undefined);

    // Narrowed by type, and by cursor bounds.
    const mark = h.receiver.received.length;
    const bounced = await h.webhooks.endpoints.replay(TENANT, endpoint.id, { from, to, types: ['recipient.bounced'] });
    assert.equal(bounced.queued, 7);
    await h.pump();
    assert.deepEqual(
      h.receiver.received.slice(mark).map((x) => (x.body as { type: string }).type),
      Array(7).fill('recipient.bounced'),
    );
    const byCursor = await h.webhooks.endpoints.replay(TENANT, endpoint.id, { from: window[0]!.cursor, to: window[2]!.cursor });
    assert.equal(byCursor.queued, 2, 'cursor bounds: after `from`, up to and including `to`');
    await assert.rejects(
      h.webhooks.endpoints.replay(TENANT, endpoint.id, { from: new Date(h.clock.now() - 31 * 24 * HOUR).toISOString(), to }),
      /invalid fields/,
    );
  },
  test,
);

forEachDialect(
  'a batching endpoint gets JSON arrays of up to batch_size events, signed once per POST',
  async (t, dialect) => {
    const h = await webhookHarness(t, dialect);
    const { secret } = await h.webhooks.endpoints.create(TENANT, { url: h.receiver.url, batchSize: 10 });
    h.receiver.secrets.push(secret);
    await h.appendMessages(25, ['recipient.queued']);
    await h.pump();
    assert.ok(h.receiver.received.every((r) => Array.isArray(r.body) && (r.body as unknown[]).length <= 10));
    assert.ok(h.receiver.received.every((r) => r.webhookId.startsWith('batch_') && r.verifiedBy.length === 1));
    assert.equal(receivedEvents(h.receiver).length, 25);
    assert.ok(h.receiver.received.length <= 4);
  },
  test,
);

forEachDialect(
  'filters: an endpoint gets only the event types it asked for',
  async (t, dialect) => {
    const h = await webhookHarness(t, dialect);
    const { secret } = await h.webhooks.endpoints.create(TENANT, { url: h.receiver.url, events: ['recipient.bounced'] });
    h.receiver.secrets.push(secret);
    await h.appendMessages(3, ['recipient.queued', 'recipient.bounced']);
    await h.pump();
    assert.deepEqual(
      receivedEvents(h.receiver).map((e) => e.type),
      ['recipient.bounced', 'recipient.bounced', 'recipient.bounced'],
    );
  },
  test,
);

forEachDialect(
  'the fan-out hands its events to the sender: no window reads them again, unless they waited 5 s or more',
  async (t, dialect) => {
    const h = await webhookHarness(t, dialect);
    const { secret } = await h.webhooks.endpoints.create(TENANT, { url: h.receiver.url });
    h.receiver.secrets.push(secret);
    const read: string[] = [];
    const events = h.store.webhookDeliveries.events;
    h.store.webhookDeliveries.events = (ids) => {
      read.push(...ids);
      return events(ids);
    };
    await h.appendMessages(10);
    await h.pump();
    assert.equal(receivedEvents(h.receiver).length, 30);
    assert.deepEqual(read, [], 'every payload came from the fan-out, none read again');
    // Claimed only once the handed-over copies are 5 s old: read again, so a change to an event in the
    // meantime (an erasure) reaches the POST.
    await h.appendMessages(2, ['recipient.queued']);
    await h.webhooks.dispatcher.tick();
    h.clock.advance(5_000);
    await h.pump();
    assert.equal(receivedEvents(h.receiver).length, 32);
    assert.equal(read.length, 2);
  },
  test,
);
