/**
 * Unwrapped data keys held in memory, so a read does not call the KMS each time. Bounded in count
 * (least recently used goes first) and in age: a key destroyed or rotated by another process (the
 * CLI, another node) stops being used here within `ttlMs`.
 */
export interface KeyCache<V> {
  get(id: string): V | undefined;
  set(id: string, value: V): void;
  delete(id: string): void;
  clear(): void;
  readonly size: number;
}

export function createKeyCache<V>(opts: { max: number; ttlMs: number; now: () => number }): KeyCache<V> {
  const entries = new Map<string, { value: V; at: number }>();
  return {
    get(id) {
      const e = entries.get(id);
      if (!e) return undefined;
      entries.delete(id);
      if (opts.now() - e.at > opts.ttlMs) return undefined;
      entries.set(id, e);
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
