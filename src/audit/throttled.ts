import type { AuditInput } from './audit-log.js';

/**
 * Entries that a client can cause as often as it likes (refused requests) are recorded at most once
 * per key and window; the next entry says how many were left out since the previous one, so the
 * chain keeps the fact without a looping client flooding it.
 */
export function createThrottledRecord(
  record: (input: AuditInput) => Promise<unknown>,
  now: () => number,
  windowMs = 60_000,
): (key: string, entry: (leftOutSincePrevious: number) => AuditInput) => Promise<void> {
  const last = new Map<string, { at: number; since: number }>();
  return async (key, entry) => {
    const t = now();
    const seen = last.get(key);
    if (seen && t - seen.at < windowMs) {
      seen.since++;
      return;
    }
    if (last.size > 10_000) last.clear();
    last.set(key, { at: t, since: 0 });
    await record(entry(seen?.since ?? 0));
  };
}
