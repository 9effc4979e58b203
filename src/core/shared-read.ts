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
