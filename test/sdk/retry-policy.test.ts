import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isRetryable, nextRetryDelay, parseRetryAfter, type RetryPolicy } from '../../sdk/src/index.js';

/** The SDK's retry decisions as tables: which answers are retried, how long it waits, when it stops. */
const policy: RetryPolicy = { retries: 3, windowMs: 60_000, baseDelayMs: 500, maxDelayMs: 8_000 };
const now = Date.UTC(2026, 11, 6, 10, 0, 0);

test('network errors, 408, 429, 5xx but 501, and 409 IDEMPOTENCY_IN_PROGRESS are retried; other 4xx never', () => {
  const cases: [Parameters<typeof isRetryable>[0], boolean][] = [
    [{ kind: 'network' }, true],
    [{ kind: 'answer', status: 408, code: 'REQUEST_TIMEOUT' }, true],
    [{ kind: 'answer', status: 429, code: 'RATE_LIMITED' }, true],
    [{ kind: 'answer', status: 500, code: 'INTERNAL' }, true],
    [{ kind: 'answer', status: 502, code: undefined }, true],
    [{ kind: 'answer', status: 503, code: 'UNAVAILABLE' }, true],
    [{ kind: 'answer', status: 504, code: undefined }, true],
    [{ kind: 'answer', status: 501, code: undefined }, false],
    [{ kind: 'answer', status: 409, code: 'IDEMPOTENCY_IN_PROGRESS' }, true],
    [{ kind: 'answer', status: 409, code: 'CONFLICT' }, false],
    [{ kind: 'answer', status: 400, code: 'MALFORMED_REQUEST' }, false],
    [{ kind: 'answer', status: 401, code: 'UNAUTHENTICATED' }, false],
    [{ kind: 'answer', status: 403, code: 'FORBIDDEN' }, false],
    [{ kind: 'answer', status: 404, code: 'NOT_FOUND' }, false],
    [{ kind: 'answer', status: 413, code: 'MESSAGE_TOO_LARGE' }, false],
    [{ kind: 'answer', status: 422, code: 'VALIDATION_FAILED' }, false],
  ];
  for (const [outcome, retried] of cases) assert.equal(isRetryable(outcome), retried, JSON.stringify(outcome));
});

test('Retry-After is read as seconds or as an HTTP date, and ignored when it is neither', () => {
  const cases: [string | null, number | undefined][] = [
    ['0', 0],
    ['1', 1000],
    [' 120 ', 120_000],
    [new Date(now + 30_000).toUTCString(), 30_000],
    [new Date(now - 30_000).toUTCString(), 0],
    ['-1', undefined],
    ['1.5', undefined],
    ['soon', undefined],
    ['2026-12-06T10:00:30Z', undefined],
    ['', undefined],
    [null, undefined],
  ];
  for (const [value, ms] of cases) assert.equal(parseRetryAfter(value, now), ms, String(value));
});

test('backoff doubles from the base up to the cap, with jitter in the upper half', () => {
  const at = (retry: number, random: number) =>
    nextRetryDelay({ policy, retry, elapsedMs: 0, retryAfterMs: undefined, random: () => random });
  assert.deepEqual(
    [0, 1, 2].map((r) => [at(r, 0), at(r, 0.99)]),
    [
      [250, 498],
      [500, 995],
      [1000, 1990],
    ],
  );
  const wide = { ...policy, retries: 10 };
  assert.equal(nextRetryDelay({ policy: wide, retry: 9, elapsedMs: 0, retryAfterMs: undefined, random: () => 0.99 }), 7960, 'capped');
});

test('Retry-After is honoured, never shortened, with at most 10 % (1 s) of spread', () => {
  const delay = (retryAfterMs: number, random: number) =>
    nextRetryDelay({ policy, retry: 0, elapsedMs: 0, retryAfterMs, random: () => random });
  assert.equal(delay(2000, 0), 2000);
  assert.equal(delay(2000, 0.999), 2200);
  assert.equal(delay(30_000, 0.999), 30_999);
});

test('retries stop at the count and when the next wait would end past the window', () => {
  const base = { policy, elapsedMs: 0, retryAfterMs: undefined, random: () => 0.5 };
  assert.notEqual(nextRetryDelay({ ...base, retry: 2 }), undefined);
  assert.equal(nextRetryDelay({ ...base, retry: 3 }), undefined, 'three retries then stop');
  assert.equal(nextRetryDelay({ ...base, policy: { ...policy, retries: 0 }, retry: 0 }), undefined, 'retries: 0 turns them off');
  assert.equal(nextRetryDelay({ ...base, retry: 0, elapsedMs: 59_900 }), undefined, 'the window is nearly spent');
  assert.equal(nextRetryDelay({ ...base, retry: 0, retryAfterMs: 61_000 }), undefined, 'Retry-After past the window');
});
