/**
 * Traffic shaping per destination: how many connections, how many messages per connection, and
 * how fast. Limits are data (`ShapingRules`): defaults plus overrides per site pattern, matched
 * against the MX host names of a site (`*.google.com` covers `aspmx.l.google.com`), so one rule
 * covers every domain a provider hosts. Connections are counted by the pool; rates are two token
 * buckets per destination (per second and per minute) refilled continuously by the injected clock,
 * so a burst up to the per-second rate goes at once and a sustained flow is held to both rates.
 *
 * Across nodes, `takeShared` counts fixed windows through a `SharedCounter` (a store table or Redis,
 * see shared-counters.ts; in memory by default), the same interface whatever backs it.
 */
import type { Clock } from '../core/index.js';

export interface DestinationLimits {
  maxConnections: number;
  maxMessagesPerConnection: number;
  /** Messages per second; 0 means no limit. */
  perSecond: number;
  /** Messages per minute; 0 means no limit. */
  perMinute: number;
}

export interface ShapingRules {
  default: DestinationLimits;
  /** Site pattern → overrides. A pattern is `*.suffix` (any host below it), a host name, or a site name. */
  bySite?: Record<string, Partial<DestinationLimits>>;
}

export interface SharedCounter {
  /** Adds `n` to `key`'s count in the current window of `windowMs` and returns the window's total. */
  increment(key: string, windowMs: number, n: number): number | Promise<number>;
}

export interface Shaper {
  /** True when a cluster counter was given: callers then check `takeShared` after `take`. */
  readonly shared: boolean;
  limitsFor(key: string): DestinationLimits;
  /** Local token buckets: 0 when `n` messages may go now (the tokens are taken), else ms to wait. */
  take(key: string, n?: number): number;
  /** Cluster-wide fixed windows through the shared counter: 0 or ms to wait. */
  takeShared(key: string, n?: number): Promise<number>;
}

/** A destination is a site reached through an egress pool; rates and connections are kept per destination. */
export function destinationKey(site: string, pool = 'default'): string {
  return `${pool}|${site}`;
}

export function siteOfKey(key: string): string {
  const i = key.indexOf('|');
  return i < 0 ? key : key.slice(i + 1);
}

const norm = (name: string): string => name.trim().toLowerCase().replace(/\.$/, '');

/**
 * The limits of a site: every matching pattern over the defaults, the more specific ones last so
 * they win (`*.l.google.com` refines `*.google.com`). Specificity: the whole site name, then an
 * exact host name, then the longer `*.suffix`.
 */
export function limitsForSite(rules: ShapingRules, site: string): DestinationLimits {
  const hosts = site.split(',').map(norm).filter(Boolean);
  const matches: Array<{ score: number; limits: Partial<DestinationLimits> }> = [];
  for (const [raw, limits] of Object.entries(rules.bySite ?? {})) {
    const pattern = norm(raw);
    let score = -1;
    if (pattern === norm(site)) score = Number.MAX_SAFE_INTEGER;
    else if (pattern.startsWith('*.')) {
      const suffix = pattern.slice(1);
      if (hosts.some((h) => h.endsWith(suffix) && h.length > suffix.length)) score = suffix.length;
    } else if (hosts.includes(pattern)) score = pattern.length + 0.5;
    if (score >= 0) matches.push({ score, limits });
  }
  matches.sort((a, b) => a.score - b.score);
  return Object.assign({ ...rules.default }, ...matches.map((m) => m.limits));
}

interface Bucket {
  tokens: number;
  at: number;
}

const WINDOWS = [
  { field: 'perSecond', ms: 1000 },
  { field: 'perMinute', ms: 60_000 },
] as const;

/** Bound on remembered sites and buckets; past it, settled entries are dropped (they equal fresh ones). */
const MAX_ENTRIES = 10_000;

export function createShaper(o: { rules: ShapingRules; clock: Clock; counter?: SharedCounter }): Shaper {
  const counter = o.counter ?? createMemoryCounter(o.clock);
  const limitsCache = new Map<string, DestinationLimits>();
  const buckets = new Map<string, Bucket>();

  const limitsFor = (key: string): DestinationLimits => {
    const site = siteOfKey(key);
    let l = limitsCache.get(site);
    if (!l) {
      if (limitsCache.size >= MAX_ENTRIES) limitsCache.clear();
      l = limitsForSite(o.rules, site);
      limitsCache.set(site, l);
    }
    return l;
  };

  /** Refilled bucket, or null when the rate is unlimited. */
  const bucket = (key: string, rate: number, windowMs: number, now: number): Bucket | null => {
    if (!(rate > 0)) return null;
    const id = `${windowMs}:${key}`;
    let b = buckets.get(id);
    if (!b) {
      if (buckets.size >= MAX_ENTRIES) prune(now);
      buckets.set(id, (b = { tokens: rate, at: now }));
    }
    b.tokens = Math.min(rate, b.tokens + ((now - b.at) * rate) / windowMs);
    b.at = now;
    return b;
  };
  const prune = (now: number): void => {
    for (const [id, b] of buckets) {
      const windowMs = Number(id.slice(0, id.indexOf(':')));
      const rate = limitsFor(id.slice(id.indexOf(':') + 1))[windowMs === 1000 ? 'perSecond' : 'perMinute'];
      if (b.tokens + ((now - b.at) * rate) / windowMs >= rate) buckets.delete(id);
    }
  };

  return {
    shared: o.counter !== undefined,
    limitsFor,

    take(key, n = 1) {
      const limits = limitsFor(key);
      const now = o.clock.now();
      const held: Bucket[] = [];
      let wait = 0;
      for (const w of WINDOWS) {
        const rate = limits[w.field];
        const b = bucket(key, rate, w.ms, now);
        if (!b) continue;
        // A batch larger than the bucket goes once the bucket is full, and leaves it in debt.
        const need = Math.min(n, rate);
        if (b.tokens >= need) held.push(b);
        else wait = Math.max(wait, Math.ceil(((need - b.tokens) * w.ms) / rate - 1e-9));
      }
      if (wait > 0) return wait;
      for (const b of held) b.tokens -= n;
      return 0;
    },

    async takeShared(key, n = 1) {
      const limits = limitsFor(key);
      for (const w of WINDOWS) {
        const limit = limits[w.field];
        if (!(limit > 0)) continue;
        const total = await counter.increment(`${w.field}:${key}`, w.ms, n);
        // The first batch of a window always goes, whatever its size (as with the buckets).
        if (total > limit && total > n) {
          const now = o.clock.now();
          return Math.max(1, Math.floor(now / w.ms) * w.ms + w.ms - now);
        }
      }
      return 0;
    },
  };
}

/** Fixed windows in memory: one node's view, the default `SharedCounter`. */
export function createMemoryCounter(clock: Clock): SharedCounter & { size(): number } {
  const windows = new Map<string, { start: number; count: number }>();
  return {
    increment(key, windowMs, n) {
      const now = clock.now();
      const start = Math.floor(now / windowMs) * windowMs;
      const id = `${windowMs}|${key}`;
      let w = windows.get(id);
      if (!w || w.start !== start) {
        if (!w && windows.size >= MAX_ENTRIES) {
          for (const [k, v] of windows) if (v.start + windowMs <= now) windows.delete(k);
        }
        windows.set(id, (w = { start, count: 0 }));
      }
      w.count += n;
      return w.count;
    },
    size: () => windows.size,
  };
}
