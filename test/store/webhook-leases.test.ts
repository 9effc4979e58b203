import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newId } from '../../src/core/index.js';
import { databaseAt, forEachDialect, openStore } from '../support/dialects.js';

/**
 * Webhook deliveries as leased work, at the repository: a claim is a lease (owner, expiry) on an
 * open delivery whose state it leaves alone (migration 033: no indexed column changes, so
 * PostgreSQL can update the row in place); a lapsed lease is due again, and only the lease's
 * current owner settles, renews or returns it.
 */
const LEASE = 60_000;

forEachDialect(
  'a claim leases a delivery without changing its state; a lapsed lease is claimed again and only its new owner settles it',
  async (t, dialect) => {
    const store = await openStore(t, dialect);
    const repo = store.webhookDeliveries;
    const now = 1_800_000_000_000;
    const delivery = (messageId: string, eventCursor: number) => ({
      id: newId('whd', now),
      endpointId: 'whe_01JEXAMPLEENDPOINT00000000',
      tenantId: 'ten_leases',
      eventId: newId('evt', now),
      eventCursor,
      messageId,
      origin: 'live',
    });
    const [a1, a2, b1] = [delivery('msg_a', 1), delivery('msg_a', 2), delivery('msg_b', 3)];
    await repo.insertMany([a1!, a2!, b1!], now);

    // The first events of each message; a2 waits for a1 to be done.
    const first = await repo.claimDue({ owner: 'n1', now, leaseMs: LEASE, limit: 10 });
    assert.deepEqual(first.map((c) => c.id).sort(), [a1!.id, b1!.id].sort());
    assert.deepEqual(
      first.map((c) => c.attempts),
      [1, 1],
    );
    const leased = await repo.listInFlight();
    assert.deepEqual(
      leased.map((r) => [r.state, r.leaseOwner]),
      [
        ['queued', 'n1'],
        ['queued', 'n1'],
      ],
      'in flight is a lease on a queued delivery, not a state',
    );
    assert.equal(await repo.countOpen(), 3);

    // Held: another node finds nothing while the lease lives, however often it looks.
    assert.deepEqual(await repo.claimDue({ owner: 'n2', now: now + LEASE - 1, leaseMs: LEASE, limit: 10 }), []);
    assert.equal(await repo.renewLeases('n1', [a1!.id, b1!.id], now + 2 * LEASE), 2);
    assert.deepEqual(await repo.claimDue({ owner: 'n2', now: now + LEASE + 1, leaseMs: LEASE, limit: 10 }), []);

    // Lapsed (n1 stopped renewing): n2 takes both, counting a second attempt.
    const later = now + 2 * LEASE + 1;
    const again = await repo.claimDue({ owner: 'n2', now: later, leaseMs: LEASE, limit: 10 });
    assert.deepEqual(again.map((c) => c.id).sort(), [a1!.id, b1!.id].sort());
    assert.deepEqual(
      again.map((c) => c.attempts),
      [2, 2],
    );
    // n1 comes back late: its settle, renewal and release change nothing.
    assert.equal(await repo.settle({ ids: [a1!.id, b1!.id], owner: 'n1', now: later, outcome: { kind: 'done' } }), 0);
    assert.equal(await repo.renewLeases('n1', [a1!.id], later + LEASE), 0);
    assert.equal(await repo.releaseOwned('n1', later), 0);

    // n2 settles a1: a2 is due now; b1 is returned at a clean stop, due at once, its attempt uncounted.
    assert.equal(await repo.settle({ ids: [a1!.id], owner: 'n2', now: later, outcome: { kind: 'done' } }), 1);
    assert.equal(await repo.releaseOwned('n2', later), 1);
    assert.deepEqual(await repo.listInFlight(), []);
    const rest = await repo.claimDue({ owner: 'n3', now: later, leaseMs: LEASE, limit: 10 });
    assert.deepEqual(
      rest.map((c) => [c.id, c.attempts]).sort(),
      [
        [a2!.id, 1],
        [b1!.id, 2],
      ].sort(),
    );

    // A retry keeps its state under the lease too, and is due at its time, not before.
    assert.equal(await repo.settle({ ids: [b1!.id], owner: 'n3', now: later, outcome: { kind: 'retry', at: later + 5_000 } }), 1);
    assert.deepEqual(await repo.claimDue({ owner: 'n3', now: later + 4_999, leaseMs: LEASE, limit: 10 }), []);
    const retried = await repo.claimDue({ owner: 'n3', now: later + 5_000, leaseMs: LEASE, limit: 10 });
    assert.deepEqual(
      retried.map((c) => c.id),
      [b1!.id],
    );
    assert.deepEqual(
      (await repo.listInFlight()).map((r) => [r.id, r.state]).sort(),
      [
        [a2!.id, 'queued'],
        [b1!.id, 'retry'],
      ].sort(),
    );
    assert.equal(await repo.settle({ ids: [a2!.id, b1!.id], owner: 'n3', now: later + 5_000, outcome: { kind: 'done' } }), 2);
    assert.equal(await repo.countOpen(), 0);
  },
  test,
);

forEachDialect(
  'migration 033: deliveries in flight at the upgrade keep their lease and get back the state they were claimed in',
  async (t, dialect) => {
    const { db, open } = await databaseAt(t, dialect, '032-drop-recipients-address-hash-index');
    const now = 1_800_000_000_000;
    const row = (id: string, eventCursor: number, state: string, firstFailedAt: number | null) => ({
      id,
      endpoint_id: 'whe_1',
      tenant_id: 'ten_1',
      event_id: `evt_${id}`,
      event_cursor: eventCursor,
      message_id: `msg_${id}`,
      origin: 'live',
      state,
      attempts: 1,
      next_attempt_at: now,
      first_failed_at: firstFailedAt,
      lease_owner: state === 'in_flight' ? 'old-node' : null,
      lease_expires_at: state === 'in_flight' ? now + LEASE : null,
      created_at: now,
      updated_at: now,
    });
    await db
      .insertInto('webhook_deliveries')
      .values([row('whd_new', 1, 'in_flight', null), row('whd_retried', 2, 'in_flight', now - 10_000), row('whd_done', 3, 'done', null)])
      .execute();
    const store = await open();
    assert.deepEqual((await store.webhookDeliveries.listInFlight()).map((r) => [r.id, r.state, r.leaseOwner]).sort(), [
      ['whd_new', 'queued', 'old-node'],
      ['whd_retried', 'retry', 'old-node'],
    ]);
    // Held until the old lease lapses, then claimed again.
    assert.deepEqual(await store.webhookDeliveries.claimDue({ owner: 'n1', now: now + 1, leaseMs: LEASE, limit: 10 }), []);
    const claimed = await store.webhookDeliveries.claimDue({ owner: 'n1', now: now + LEASE, leaseMs: LEASE, limit: 10 });
    assert.deepEqual(claimed.map((c) => c.id).sort(), ['whd_new', 'whd_retried']);
  },
  test,
);
