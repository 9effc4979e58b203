import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newId } from '../../src/core/index.js';
import { forEachDialect, openStore } from '../support/dialects.js';

/**
 * Id lists bound as one parameter (store/repositories/param-list.ts), through the statements that
 * use them: webhook deliveries renewed and settled by id, on both dialects, whatever the list's
 * length (an empty one, more than one statement takes), and only the ids given.
 */
forEachDialect(
  'id lists of any length renew and settle exactly their deliveries',
  async (t, dialect) => {
    const store = await openStore(t, dialect);
    const repo = store.webhookDeliveries;
    const now = 1_800_000_000_000;
    const rows = Array.from({ length: 2_345 }, (_, i) => ({
      id: newId('whd', now),
      endpointId: 'whe_01JLISTENDPOINT000000000000',
      tenantId: 'ten_lists',
      eventId: `evt_${String(i).padStart(6, '0')}`,
      eventCursor: i + 1,
      messageId: null,
      origin: 'live',
    }));
    await repo.insertMany(rows, now);
    const claimed = await repo.claimDue({ owner: 'n1', now, leaseMs: 60_000, limit: 5_000 });
    assert.equal(claimed.length, rows.length);
    const ids = claimed.map((c) => c.id);

    assert.equal(await repo.renewLeases('n1', [], now + 120_000), 0);
    assert.equal(await repo.renewLeases('n2', ids, now + 120_000), 0, 'another owner renews nothing');
    assert.equal(await repo.renewLeases('n1', ids, now + 120_000), ids.length);
    assert.equal(await repo.settle({ ids: [], owner: 'n1', now, outcome: { kind: 'done' } }), 0);
    // More ids than one statement takes, and one that is not a delivery.
    assert.equal(await repo.settle({ ids: [...ids.slice(0, 2_100), "whd_'none'"], owner: 'n1', now, outcome: { kind: 'done' } }), 2_100);
    assert.equal(await repo.countOpen(), rows.length - 2_100);
    assert.equal(await repo.settle({ ids, owner: 'n1', now, outcome: { kind: 'retry', at: now + 5_000 } }), rows.length - 2_100);
    assert.equal(await repo.countOpen(), rows.length - 2_100, 'a retry stays open');
    assert.equal((await repo.listInFlight()).length, 0);
  },
  test,
);
