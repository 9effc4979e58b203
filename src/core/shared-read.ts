/**
 * How long the hot path trusts a tenant's settings before reading them again (`recentRead`): the
 * TLS policy (delivery), the sending limits and the classification rules (accept) are asked for on
 * every message, one query each in profiles. A change made through this process applies at once;
 * one made by the CLI (another process) or on another node within this time.
 */
export const SETTINGS_CACHE_MS = 10_000;

/**
 * Settings the hot path asks for on every message, read at most once per `ttlMs` per key.
 * Concurrent readers share the read in flight.
 * Writers through this process call `forget` after they commit, so their change applies to the
 * next message at once; a change made elsewhere (the CLI, another node) applies within `ttlMs`.
 * Failed reads are not kept. At most `maxKeys` keys are kept, the oldest dropped first.
 *
 * Profiles had one query per message for each of these: on SQLite the messages of an API batch are
 * composed at different moments, so they rarely shared a read in flight.
 */
export interface RecentRead<K, V> {
  get(key: K): Promise<V>;
  /** Drops what is kept for `key`, a read in flight included: the next `get` reads afresh. */
  forget(key: K): void;
  /** Drops everything kept (a change that touches keys the writer cannot name). */
  clear(): void;
}

export function recentRead<K, V>(
  read: (key: K) => Promise<V>,
  opts: { now: () => number; ttlMs: number; maxKeys?: number },
): RecentRead<K, V> {
  const maxKeys = opts.maxKeys ?? 10_000;
  // A read is kept from its start, so concurrent readers share it; `forget` during the read drops
  // it too (it may predate the change): it answers its callers, later ones read afresh.
  const kept = new Map<K, { value: Promise<V>; until: number }>();
  return {
    get(key) {
      const hit = kept.get(key);
      if (hit && hit.until > opts.now()) return hit.value;
      const value = read(key);
      kept.delete(key);
      if (kept.size >= maxKeys) kept.delete(kept.keys().next().value as K);
      kept.set(key, { value, until: opts.now() + opts.ttlMs });
      value.catch(() => {
        if (kept.get(key)?.value === value) kept.delete(key);
      });
      return value;
    },
    forget(key) {
      kept.delete(key);
    },
    clear() {
      kept.clear();
    },
  };
}

/**
 * Reads of keys asked in the same event-loop turn go out together, `maxBatch` keys per read: the
 * delivery worker starts every message of a claimed window in one turn, and each asks for its
 * message and body; on PostgreSQL that was a round trip per message. `readMany` answers per key, a
 * value or a promise of one, so one key's failure (a body that cannot be opened) fails only the
 * callers of that key; a key it does not answer resolves undefined. A failed read fails its keys'
 * callers; nothing is kept, so the next turn reads afresh.
 */
export function batchedRead<K, V>(
  readMany: (keys: K[]) => Promise<Map<K, V | Promise<V>>>,
  maxBatch = 500,
): (key: K) => Promise<V | undefined> {
  type Waiter = { resolve: (v: V | Promise<V> | undefined) => void; reject: (e: unknown) => void };
  let waiting = new Map<K, Waiter[]>();
  function flush(): void {
    const batch = waiting;
    waiting = new Map();
    const keys = [...batch.keys()];
    for (let i = 0; i < keys.length; i += maxBatch) {
      const chunk = keys.slice(i, i + maxBatch);
      readMany(chunk).then(
        (found) => {
          for (const k of chunk) for (const w of batch.get(k)!) w.resolve(found.get(k));
        },
        (err) => {
          for (const k of chunk) for (const w of batch.get(k)!) w.reject(err);
        },
      );
    }
  }
  return (key) =>
    new Promise((resolve, reject) => {
      // At the end of this turn, not now: the window's other groups ask in the same turn.
      if (waiting.size === 0) setImmediate(flush);
      const list = waiting.get(key);
      if (list) list.push({ resolve, reject });
      else waiting.set(key, [{ resolve, reject }]);
    });
}
