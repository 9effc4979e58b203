import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fakeClock } from '../support/clock.js';
import { forEachDialect, openStore } from '../support/dialects.js';

const TTL = 24 * 3_600_000;
const TAKEOVER = 300_000;

forEachDialect(
  'a reservation whose request never answered is taken over after the takeover time, by one request only',
  async (t, dialect) => {
    const store = await openStore(t, dialect);
    const clock = fakeClock();
    const begin = (hash = 'h1') =>
      store.idempotency.begin('ten_1', 'order-1', hash, { now: clock.now(), ttlMs: TTL, takeoverMs: TAKEOVER });

    assert.deepEqual(await begin(), { kind: 'new' });
    // The first request died between its commit and its answer: the key stays reserved.
    clock.advance(TAKEOVER - 1);
    assert.deepEqual(await begin(), { kind: 'in_progress' }, 'still presumed running before the takeover time');
    assert.deepEqual(await begin('h2'), { kind: 'conflict' }, 'another body is refused at any time');

    clock.advance(1);
    const racers = await Promise.all([begin(), begin(), begin(), begin()]);
    assert.equal(racers.filter((r) => r.kind === 'new').length, 1, JSON.stringify(racers));
    assert.equal(racers.filter((r) => r.kind === 'in_progress').length, 3);

    // The takeover is a fresh reservation: it is not taken over again before its own time is up.
    clock.advance(TAKEOVER - 1);
    assert.deepEqual(await begin(), { kind: 'in_progress' });
    await store.idempotency.complete('ten_1', 'order-1', 202, { id: 'msg_1' });
    clock.advance(TAKEOVER * 10);
    assert.deepEqual(await begin(), { kind: 'replay', status: 202, body: { id: 'msg_1' } }, 'an answered key is never taken over');
  },
  test,
);
