/**
 * Concurrent reads of the same key share one pending read; nothing is kept once it resolves. The
 * messages of an API batch are accepted concurrently and each asks for its tenant's settings: one
 * read answers all that ask while it is in flight (on PostgreSQL, one round trip instead of one per
 * message), and a caller that comes after it resolved reads afresh, so a change is never missed
 * for longer than one read takes.
 */
export function sharedRead<K, V>(read: (key: K) => Promise<V>): (key: K) => Promise<V> {
  const pending = new Map<K, Promise<V>>();
  return (key) => {
    const inFlight = pending.get(key);
    if (inFlight) return inFlight;
    const p = read(key).finally(() => pending.delete(key));
    pending.set(key, p);
    return p;
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
