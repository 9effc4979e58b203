/**
 * A TTL cache for DNS results, keyed by name + type. Time comes from the injected clock so tests move it
 * instead of sleeping. The Map's insertion order doubles as recency order: a hit is re-inserted at the
 * end, and when the cache is full the oldest entry (the first key) is evicted. That is LRU in O(1)
 * without a linked list.
 *
 * Only answers and negative answers (NXDOMAIN, NODATA) are stored; failures are never cached, because a
 * SERVFAIL or timeout says nothing about the name and the next try may succeed.
 */
import type { Clock } from '../core/index.js';
import type { DnsRecordType, DnsResult } from './resolver.js';

/** RFC 8767 §4 suggests capping positive TTLs at 7 days; a day keeps stale routes short for an MTA. */
const MAX_POSITIVE_TTL_S = 86_400;
/** RFC 2308 §5: negative caching beyond 1–3 hours is not recommended. */
const MAX_NEGATIVE_TTL_S = 10_800;

export interface DnsCache {
  get<T extends DnsRecordType>(name: string, type: T): DnsResult<T> | undefined;
  /** Stores `result` for `ttlSeconds`; errors and a TTL of 0 are not stored. */
  set<T extends DnsRecordType>(name: string, type: T, result: DnsResult<T>, ttlSeconds: number): void;
  readonly size: number;
}

interface Entry {
  result: DnsResult<DnsRecordType>;
  expiresAt: number;
}

export function cacheKey(name: string, type: DnsRecordType): string {
  return `${type} ${normaliseName(name)}`;
}

/** DNS names compare case-insensitively (RFC 4343) and the trailing root dot is optional in input. */
export function normaliseName(name: string): string {
  const lower = name.toLowerCase();
  return lower.length > 1 && lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

export function createDnsCache({ clock, maxEntries = 10_000 }: { clock: Clock; maxEntries?: number }): DnsCache {
  const entries = new Map<string, Entry>();

  return {
    get<T extends DnsRecordType>(name: string, type: T): DnsResult<T> | undefined {
      const key = cacheKey(name, type);
      const entry = entries.get(key);
      if (!entry) return undefined;
      const now = clock.now();
      if (entry.expiresAt <= now) {
        entries.delete(key);
        return undefined;
      }
      entries.delete(key);
      entries.set(key, entry);
      const result = entry.result as DnsResult<T>;
      // Hand out the remaining lifetime, as a caching resolver does, so callers that store the TTL
      // (MTA-STS, posture evidence) do not extend it.
      if (result.kind === 'answer') return { ...result, ttl: Math.ceil((entry.expiresAt - now) / 1000) };
      return result;
    },

    set<T extends DnsRecordType>(name: string, type: T, result: DnsResult<T>, ttlSeconds: number): void {
      if (result.kind === 'error') return;
      const cap = result.kind === 'answer' ? MAX_POSITIVE_TTL_S : MAX_NEGATIVE_TTL_S;
      const ttl = Math.min(Math.max(0, Math.floor(ttlSeconds)), cap);
      if (ttl === 0) return;
      const key = cacheKey(name, type);
      entries.delete(key);
      entries.set(key, { result: result as DnsResult<DnsRecordType>, expiresAt: clock.now() + ttl * 1000 });
      if (entries.size > maxEntries) {
        const oldest = entries.keys().next();
        if (!oldest.done) entries.delete(oldest.value);
      }
    },

    get size() {
      return entries.size;
    },
  };
}
