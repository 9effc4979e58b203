/**
 * Unwrapped data keys held in memory, so a read does not call the KMS each time. Bounded in count
 * and in age: a key destroyed or rotated by another process (the CLI, another node) stops being used
 * here within `ttlMs`.
 *
 * `evict` says who goes first when the cache is full: the least recently used entry (keys: a tenant
 * that sends keeps its key however many others come and go), or the oldest inserted (values read
 * back soon after they were written, such as opened events: a lookup then costs one map read, where
 * keeping the use order costs a delete and an insert per lookup, which showed in delivery profiles).
 */
export interface KeyCache<V> {
  get(id: string): V | undefined;
  set(id: string, value: V): void;
  delete(id: string): void;
  clear(): void;
  readonly size: number;
}

export function createKeyCache<V>(opts: {
  max: number;
  ttlMs: number;
  now: () => number;
  evict?: 'least-recently-used' | 'oldest-inserted';
}): KeyCache<V> {
  const entries = new Map<string, { value: V; at: number }>();
  const byUse = (opts.evict ?? 'least-recently-used') === 'least-recently-used';
  return {
    get(id) {
      const e = entries.get(id);
      if (!e) return undefined;
      if (opts.now() - e.at > opts.ttlMs) {
        entries.delete(id);
        return undefined;
      }
      if (byUse) {
        entries.delete(id);
        entries.set(id, e);
      }
      return e.value;
    },
    set(id, value) {
      entries.delete(id);
      entries.set(id, { value, at: opts.now() });
      while (entries.size > Math.max(1, opts.max)) {
        const oldest = entries.keys().next().value as string;
        entries.delete(oldest);
      }
    },
    delete: (id) => void entries.delete(id),
    clear: () => entries.clear(),
    get size() {
      return entries.size;
    },
  };
}
