import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createAuditLog, createAuditService } from '../../src/audit/index.js';
import { newId } from '../../src/core/index.js';
import { createRetention } from '../../src/retention/index.js';
import { fakeClock } from '../support/clock.js';
import { forEachDialect, openStore } from '../support/dialects.js';

/**
 * Settled webhook deliveries and POST attempts are kept for the replay reach (`events.retentionDays`),
 * then the purge job deletes them; open deliveries stay however old, and the run counts what went.
 */
const DAY = 86_400_000;

forEachDialect(
  'settled webhook deliveries and attempts go after the replay reach; open ones and recent ones stay',
  async (t, dialect) => {
    const store = await openStore(t, dialect);
    const clock = fakeClock();
    const audit = createAuditService({ store, log: createAuditLog({ clock }) });
    const retention = createRetention({ store, clock, audit, webhookRecordDays: 30 });
    const endpointId = 'whe_01JEXAMPLEENDPOINT00000000';
    const deliveries = (at: number, n: number) =>
      Array.from({ length: n }, (_, i) => ({
        id: newId('whd', at),
        endpointId,
        tenantId: 'ten_records',
        eventId: newId('evt', at),
        eventCursor: at + i,
        messageId: null,
        origin: 'live',
      }));
    const attempt = (at: number) => ({
      id: newId('wha', at),
      endpointId,
      eventIds: ['evt_x'],
      attempt: 1,
      at,
      outcome: 'succeeded' as const,
      status: 204,
      latencyMs: 3,
      error: null,
      responseExcerpt: null,
    });
    const old = clock.now();
    // Old: five done, one dead, one still open (retrying); recent: two done.
    const oldRows = deliveries(old, 7);
    await store.webhookDeliveries.insertMany(oldRows, old);
    const claimed = await store.webhookDeliveries.claimDue({ owner: 'test', now: old, leaseMs: 60_000, limit: 100 });
    assert.equal(claimed.length, 7);
    const settle = (ids: string[], outcome: Parameters<typeof store.webhookDeliveries.settle>[0]['outcome']) =>
      store.webhookDeliveries.settle({ ids, owner: 'test', now: old, outcome });
    await settle(
      oldRows.slice(0, 5).map((r) => r.id),
      { kind: 'done' },
    );
    await settle([oldRows[5]!.id], { kind: 'dead' });
    await settle([oldRows[6]!.id], { kind: 'retry', at: old + 40 * DAY });
    await store.webhookDeliveries.insertAttempts([attempt(old), attempt(old + 1)]);

    clock.advance(25 * DAY);
    const recent = clock.now();
    const recentRows = deliveries(recent, 2);
    await store.webhookDeliveries.insertMany(recentRows, recent);
    const again = await store.webhookDeliveries.claimDue({ owner: 'test', now: recent, leaseMs: 60_000, limit: 100 });
    assert.deepEqual(new Set(again.map((d) => d.id)), new Set(recentRows.map((r) => r.id)));
    await settle(
      recentRows.map((r) => r.id),
      { kind: 'done' },
    );
    await store.webhookDeliveries.insertAttempts([attempt(recent)]);

    // 25 days after the old ones: nothing is past 30 days yet.
    const early = await retention.purgeDue();
    assert.deepEqual({ ...early.webhooks, before: undefined }, { before: undefined, deliveries: 0, attempts: 0 });

    // 31 days after: the old settled ones and old attempts go; the open one and the recent stay.
    clock.advance(6 * DAY);
    const run = await retention.purgeDue();
    assert.equal(run.webhooks.deliveries, 6);
    assert.equal(run.webhooks.attempts, 2);
    assert.equal(run.webhooks.before, new Date(clock.now() - 30 * DAY).toISOString());
    assert.equal(await store.webhookDeliveries.countOpen(), 1, 'the retrying delivery stays');
    const attempts = await store.webhookDeliveries.listAttempts(endpointId, { limit: 10 });
    assert.deepEqual(
      attempts.map((a) => a.at),
      [recent],
    );
    // The run's audit entry carries the counts.
    const [last] = await retention.runs(1);
    assert.deepEqual((last!.counts as { webhooks: unknown }).webhooks, run.webhooks);
  },
  test,
);
