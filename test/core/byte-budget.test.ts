import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createByteBudget } from '../../src/core/index.js';

test('holds grow until the budget is spent and give their bytes back once', () => {
  const budget = createByteBudget(100);
  const a = budget.hold();
  const b = budget.hold();
  assert.ok(a.grow(60));
  assert.ok(b.grow(40));
  assert.equal(budget.inFlight(), 100);
  assert.equal(b.grow(1), false, 'past the budget');
  assert.equal(budget.fits(1), false);
  a.release();
  a.release();
  assert.equal(budget.inFlight(), 40, 'a second release changes nothing');
  assert.equal(a.grow(1), false, 'a released hold stays released');
  assert.ok(b.grow(60));
  b.release();
  assert.equal(budget.inFlight(), 0);
});

test('one hold alone may pass the budget, so a legal message is never impossible', () => {
  const budget = createByteBudget(100);
  const big = budget.hold();
  assert.ok(big.grow(80));
  assert.ok(big.grow(500));
  const other = budget.hold();
  assert.equal(other.grow(1), false, 'but nobody else gets in meanwhile');
  big.release();
  assert.ok(other.grow(1));
});

test('a limit of 0 means no budget', () => {
  const budget = createByteBudget(0);
  const h = budget.hold();
  assert.ok(h.grow(Number.MAX_SAFE_INTEGER / 2));
  assert.ok(budget.hold().grow(10));
});
