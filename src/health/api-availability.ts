/**
 * API availability as this node saw it: requests and 5xx answers counted per minute over a rolling
 * window, in memory (bounded: one small entry per minute of the window). A cluster's figure is the
 * sum over its nodes, which Prometheus does with the counters of /metrics.
 */
export interface ApiAvailability {
  /** Counts one answered request. */
  record(status: number, now: number): void;
  /** Requests and 5xx answers since `since` (ms). */
  since(since: number): { total: number; errors: number };
}

export function createApiAvailability(windowMs: number): ApiAvailability {
  const minutes = new Map<number, { total: number; errors: number }>();
  return {
    record(status, now) {
      const m = Math.floor(now / 60_000);
      const b = minutes.get(m) ?? { total: 0, errors: 0 };
      b.total++;
      if (status >= 500) b.errors++;
      minutes.set(m, b);
      if (minutes.size > windowMs / 60_000 + 2) {
        const oldest = Math.floor((now - windowMs) / 60_000);
        for (const k of minutes.keys()) if (k < oldest) minutes.delete(k);
      }
    },
    since(since) {
      const first = Math.floor(since / 60_000);
      let total = 0;
      let errors = 0;
      for (const [k, b] of minutes) {
        if (k < first) continue;
        total += b.total;
        errors += b.errors;
      }
      return { total, errors };
    },
  };
}
