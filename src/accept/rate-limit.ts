import type { Clock } from '../core/index.js';

/**
 * Per-tenant token buckets for accepted messages per minute. In-process: each node enforces its own
 * share. Cluster-wide limits (Redis) come with the multi-node work; the interface stays the same.
 */
export interface RateLimiter {
  /** Takes `n` tokens; returns 0 when allowed, else seconds until enough tokens return. */
  take(key: string, perMinute: number, n?: number): number;
  /** Returns tokens taken for work that was then refused. */
  give(key: string, n?: number): void;
}

export function createRateLimiter(clock: Clock): RateLimiter {
  const buckets = new Map<string, { tokens: number; at: number }>();
  return {
    take(key, perMinute, n = 1) {
      if (perMinute <= 0) return 0;
      const now = clock.now();
      const b = buckets.get(key) ?? { tokens: perMinute, at: now };
      b.tokens = Math.min(perMinute, b.tokens + ((now - b.at) / 60_000) * perMinute);
      b.at = now;
      buckets.set(key, b);
      if (b.tokens >= n) {
        b.tokens -= n;
        return 0;
      }
      return Math.max(1, Math.ceil(((n - b.tokens) / perMinute) * 60));
    },
    give(key, n = 1) {
      const b = buckets.get(key);
      if (b) b.tokens += n;
    },
  };
}
