/**
 * The cluster-wide side of traffic shaping: fixed-window counters every node increments before it
 * sends to a destination, so `perSecond` / `perMinute` hold for the cluster, not per node. Two
 * backings behind the shaper's `SharedCounter`: a table in the store (PostgreSQL: one upsert per
 * check, the row lock orders concurrent nodes) and Redis (`INCRBY` + `PEXPIRE` in one MULTI), as
 * KumoMTA's throttles do. Local token buckets still run first on every node; these counters only
 * add the cluster bound.
 */
import type { Redis } from 'ioredis';
import { type Clock, PostwardenError } from '../core/index.js';
import type { Store } from '../store/index.js';
import type { SharedCounter } from './shaper.js';

export interface ClosableCounter extends SharedCounter {
  /** Where the counts live, for logs and metrics: 'store' or 'redis'. */
  readonly backing: 'store' | 'redis';
  close(): Promise<void>;
}

/** How often the store counter deletes windows that have ended (rows are tiny; a minute is plenty). */
const PURGE_EVERY_MS = 60_000;

export function createStoreCounter(deps: { store: Pick<Store, 'rateWindows'>; clock: Clock }): ClosableCounter {
  let nextPurge = 0;
  return {
    backing: 'store',
    async increment(key, windowMs, n) {
      const now = deps.clock.now();
      const start = Math.floor(now / windowMs) * windowMs;
      if (now >= nextPurge) {
        nextPurge = now + PURGE_EVERY_MS;
        // Off the send path: a failed purge is retried next minute and costs nothing meanwhile.
        void deps.store.rateWindows.purgeExpired(now).catch(() => undefined);
      }
      return deps.store.rateWindows.increment(`${windowMs}|${key}`, start, n, start + windowMs);
    },
    async close() {},
  };
}

export function createRedisCounter(deps: { url: string; clock: Clock; prefix?: string }): ClosableCounter {
  const prefix = `${deps.prefix ?? 'postwarden:'}rate:`;
  let redis: Redis | undefined;
  let closed = false;
  let connecting: Promise<Redis> | null = null;
  /**
   * The first use loads the client (only nodes configured for Redis pay for it) and waits, bounded, for
   * the first connection; after that, a dropped link fails fast.
   */
  const ready = (): Promise<Redis> => {
    connecting ??= import('ioredis').then(async ({ Redis }) => {
      // No offline queue: while Redis is away a command fails at once and the caller defers the site's
      // recipients, instead of holding a delivery slot through reconnect back-offs.
      const client = new Redis(deps.url, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 2000 });
      // Connection errors are reported by the failing increment; without a listener ioredis logs each retry.
      client.on('error', () => undefined);
      redis = client;
      if (!closed) await client.connect().catch(() => undefined);
      // Closed while connecting: nothing may keep the process alive.
      if (closed) client.disconnect();
      return client;
    });
    return connecting;
  };
  return {
    backing: 'redis',
    async increment(key, windowMs, n) {
      const client = await ready();
      const start = Math.floor(deps.clock.now() / windowMs) * windowMs;
      const k = `${prefix}${windowMs}:${start}:${key}`;
      const replies = await client
        .multi()
        .incrby(k, n)
        .pexpire(k, windowMs * 2)
        .exec();
      const [err, total] = replies?.[0] ?? [new Error('Redis MULTI was discarded'), null];
      if (err) throw err;
      return Number(total);
    },
    async close() {
      closed = true;
      redis?.disconnect();
    },
  };
}

/**
 * The counter a node should use: Redis when configured, the store when it is shared by several
 * nodes (PostgreSQL), none for one SQLite node, whose local buckets are already exact.
 */
export function chooseSharedCounter(o: {
  mode: 'auto' | 'store' | 'redis' | 'off';
  redisUrl: string;
  redisPrefix?: string;
  store: Pick<Store, 'rateWindows' | 'dialect'>;
  clock: Clock;
}): ClosableCounter | undefined {
  const mode = o.mode === 'auto' ? (o.redisUrl ? 'redis' : o.store.dialect === 'postgres' ? 'store' : 'off') : o.mode;
  switch (mode) {
    case 'off':
      return undefined;
    case 'store':
      return createStoreCounter({ store: o.store, clock: o.clock });
    case 'redis':
      if (!o.redisUrl) {
        throw new PostwardenError('CONFIG_INVALID', 'delivery.sharedRates is redis but cluster.redisUrl (REDIS_URL) is empty.', {
          errors: [{ path: '/cluster/redisUrl', message: 'must be set when delivery.sharedRates is redis' }],
        });
      }
      return createRedisCounter({ url: o.redisUrl, clock: o.clock, ...(o.redisPrefix ? { prefix: o.redisPrefix } : {}) });
  }
}
