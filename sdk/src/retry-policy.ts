/**
 * When to try a request again and how long to wait first. Pure functions, so the table of cases is
 * tested without a clock or a socket.
 *
 * Retried: no answer (network error, timeout), 408, 429, 5xx other than 501, and 409
 * IDEMPOTENCY_IN_PROGRESS (the first request with the same Idempotency-Key is still running: the
 * server says "retry shortly" and sends Retry-After). Every other 4xx is the caller's to fix and is
 * never retried. Every POST carries an Idempotency-Key reused across its retries, so a retry of a
 * request that did reach the server replays its first answer instead of doing the work twice.
 *
 * The wait is the server's Retry-After when it sent one (RFC 9110 §10.2.3: seconds or an HTTP
 * date), else exponential backoff with jitter: half of min(maxDelay, base·2^n) plus a random part of
 * the other half, so clients that failed together do not come back together. Retries stop at
 * `retries` or when the next wait would end past `windowMs` after the first attempt.
 */
export interface RetryPolicy {
  /** How many retries after the first attempt (0 turns retrying off). */
  retries: number;
  /** No retry starts later than this many ms after the first attempt began. */
  windowMs: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const defaultRetryPolicy: RetryPolicy = { retries: 3, windowMs: 60_000, baseDelayMs: 500, maxDelayMs: 8_000 };

/** What came back from one attempt, as far as retrying is concerned. */
export type AttemptOutcome = { kind: 'network' } | { kind: 'answer'; status: number; code: string | undefined };

export function isRetryable(o: AttemptOutcome): boolean {
  if (o.kind === 'network') return true;
  const { status } = o;
  if (status === 408 || status === 429) return true;
  if (status === 409) return o.code === 'IDEMPOTENCY_IN_PROGRESS';
  return status >= 500 && status !== 501 && status <= 599;
}

/**
 * Milliseconds to wait before retry number `retry` (0-based), or undefined to give up.
 * `elapsedMs` counts from the start of the first attempt; `random` returns [0, 1).
 */
export function nextRetryDelay(a: {
  policy: RetryPolicy;
  retry: number;
  elapsedMs: number;
  retryAfterMs: number | undefined;
  random: () => number;
}): number | undefined {
  if (a.retry >= a.policy.retries) return undefined;
  let delay: number;
  if (a.retryAfterMs !== undefined) {
    // Never earlier than asked; a little later (up to 10 %, at most 1 s) spreads the herd.
    delay = a.retryAfterMs + Math.min(1000, a.retryAfterMs * 0.1) * a.random();
  } else {
    const ceiling = Math.min(a.policy.maxDelayMs, a.policy.baseDelayMs * 2 ** a.retry);
    delay = ceiling / 2 + (ceiling / 2) * a.random();
  }
  delay = Math.round(delay);
  return a.elapsedMs + delay > a.policy.windowMs ? undefined : delay;
}

/** RFC 9110 §10.2.3: `Retry-After: 120` or `Retry-After: Fri, 31 Dec 1999 23:59:59 GMT`. Milliseconds from now, never negative. */
export function parseRetryAfter(value: string | null | undefined, nowMs: number): number | undefined {
  if (value === null || value === undefined) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  // An HTTP date always names a weekday and GMT; refusing anything else keeps Date.parse's leniency out.
  if (!/^[A-Za-z]{3}, \d{2} [A-Za-z]{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/.test(v)) return undefined;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}
