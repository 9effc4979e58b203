import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createApiAvailability } from '../../src/health/index.js';

const MIN = 60_000;

test('counts requests and 5xx answers per minute over the window, and forgets older minutes', () => {
  const a = createApiAvailability(10 * MIN);
  const t0 = Date.UTC(2026, 10, 23, 9, 0, 0);
  a.record(200, t0);
  a.record(503, t0 + 1000);
  a.record(404, t0 + MIN);
  a.record(500, t0 + 2 * MIN);
  assert.deepEqual(a.since(t0), { total: 4, errors: 2 });
  assert.deepEqual(a.since(t0 + MIN), { total: 2, errors: 1 }, "a 4xx is the client's failure, not ours");
  // Far past the window: recording prunes old minutes, keeping at most the window plus 2 (memory stays bounded).
  for (let i = 0; i < 20; i++) a.record(200, t0 + (30 + i) * MIN);
  assert.deepEqual(a.since(t0), { total: 12, errors: 0 });
  assert.deepEqual(a.since(t0 + 40 * MIN), { total: 10, errors: 0 });
});
