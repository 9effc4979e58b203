/**
 * When to try a deferred recipient again: the configured steps (minutes), the last one repeating,
 * jittered ±20% so recipients deferred together by one outage do not return as one thundering herd.
 */
export function nextAttemptDelayMs(attempts: number, stepsMinutes: readonly number[], random: () => number = Math.random): number {
  const steps = stepsMinutes.length ? stepsMinutes : [5];
  const base = steps[Math.min(Math.max(attempts, 1), steps.length) - 1]! * 60_000;
  const jitter = 0.8 + random() * 0.4;
  return Math.round(base * jitter);
}

/** True when a recipient first queued at `createdAt` has outlived the maximum queue age. */
export function isExpired(createdAt: number, now: number, maxAgeHours: number): boolean {
  return now - createdAt >= maxAgeHours * 3_600_000;
}

/**
 * Exponential backoff with jitter for work retried on a short fuse (webhook attempts): base × 2^(n−1),
 * capped, then drawn uniformly from its upper half so a crowd that failed together spreads out.
 */
export function backoffDelayMs(attempts: number, o: { baseMs: number; capMs: number }, random: () => number = Math.random): number {
  const exp = Math.min(o.capMs, o.baseMs * 2 ** Math.min(Math.max(attempts, 1) - 1, 40));
  return Math.round(exp / 2 + (random() * exp) / 2);
}
