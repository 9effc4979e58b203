/**
 * Outbound connections per destination (a site name plus an egress pool: the key is the caller's).
 *
 * Design. `acquire(key)` hands out a lease on a session: the most recently used idle one that can
 * still carry a message, else a new one while the destination is under its connection limit, else
 * a place in a FIFO queue. The queue is bounded twice: by length (`maxWaiting`, beyond which acquire
 * fails at once) and by time (`maxWaitMs`), so a slow destination sheds load instead of piling up
 * promises. A connection slot is counted from the moment an open starts; a failed open gives the
 * slot back and lets the next waiter try. `release(lease, { reusable })` returns the session to the
 * first waiter or to the idle list, or closes it (not reusable, no longer usable, or at
 * `maxMessagesPerConnection`, which keeps one connection from carrying a whole queue to one remote
 * IP). Idle sessions close after `idleMs` by the injected clock; `sweepIdle()` does it, and a timer
 * calls it while anything is idle. `drain()` refuses new work, closes idle sessions, waits a grace
 * period for leases to come back and then closes the rest.
 */
import type { Clock } from '../core/index.js';

export interface PooledSession {
  readonly usable: boolean;
  readonly messagesSent: number;
  close(): Promise<void>;
}

/** What `open` returns: `openSession`'s result fits. */
export type OpenOutcome = { ok: true; session: PooledSession } | { ok: false };

type SessionOf<R extends OpenOutcome> = Extract<R, { ok: true }>['session'];
type FailureOf<R extends OpenOutcome> = Extract<R, { ok: false }>;

export interface Lease<S> {
  ok: true;
  key: string;
  session: S;
  /** The session carried a message before this lease. */
  reused: boolean;
  /** Time spent queued for a slot (by the injected clock). */
  waitedMs: number;
}

export type AcquireFailure<F> =
  | { ok: false; reason: 'open-failed'; failure: F }
  | { ok: false; reason: 'wait-timeout' | 'queue-full' | 'draining'; error: string };

export interface PoolOptions<R extends OpenOutcome> {
  open: (key: string) => Promise<R>;
  maxConnections: number | ((key: string) => number);
  maxMessagesPerConnection: number | ((key: string) => number);
  idleMs: number;
  clock: Clock;
  /** Longest wait for a slot. Default 30 s. */
  maxWaitMs?: number;
  /** Longest queue per destination. Default 1000. */
  maxWaiting?: number;
}

export interface PoolStats {
  /** Sessions open or opening, leased or idle. */
  open: number;
  idle: number;
  leased: number;
  waiting: number;
}

export interface Pool<R extends OpenOutcome> {
  acquire(key: string): Promise<Lease<SessionOf<R>> | AcquireFailure<FailureOf<R>>>;
  release(lease: Lease<SessionOf<R>>, o: { reusable: boolean }): void;
  /** Closes sessions idle for `idleMs` or no longer usable; returns how many. */
  sweepIdle(): number;
  drain(o?: { graceMs?: number }): Promise<void>;
  stats(key: string): PoolStats;
  keys(): string[];
}

interface Waiter<S, F> {
  enqueuedAt: number;
  timer: NodeJS.Timeout;
  resolve(r: Lease<S> | AcquireFailure<F>): void;
  /** `open` threw: a local fault, passed on as it is. */
  reject(e: unknown): void;
}

interface Destination<S, F> {
  idle: Array<{ session: S; since: number }>;
  leased: Set<S>;
  opening: number;
  waiters: Waiter<S, F>[];
}

export function createPool<R extends OpenOutcome>(o: PoolOptions<R>): Pool<R> {
  type S = SessionOf<R>;
  type F = FailureOf<R>;
  const maxWaitMs = o.maxWaitMs ?? 30_000;
  const maxWaiting = o.maxWaiting ?? 1000;
  const limit = (v: number | ((key: string) => number), key: string): number => (typeof v === 'number' ? v : v(key));
  const dests = new Map<string, Destination<S, F>>();
  const closing = new Set<Promise<void>>();
  let draining = false;
  let sweeper: NodeJS.Timeout | null = null;
  let onSettled: (() => void) | null = null;

  const dest = (key: string): Destination<S, F> => {
    let d = dests.get(key);
    if (!d) dests.set(key, (d = { idle: [], leased: new Set(), opening: 0, waiters: [] }));
    return d;
  };
  const count = (d: Destination<S, F>): number => d.idle.length + d.leased.size + d.opening;
  const canCarry = (key: string, s: S): boolean => s.usable && s.messagesSent < limit(o.maxMessagesPerConnection, key);
  const refuse = (reason: 'wait-timeout' | 'queue-full' | 'draining', error: string): AcquireFailure<F> => ({ ok: false, reason, error });

  const close = (s: S): void => {
    const p = s
      .close()
      .catch(() => {})
      .finally(() => closing.delete(p));
    closing.add(p);
  };
  /** Forgets empty destinations (the key space is unbounded) and tells drain() when leases are back. */
  const tidy = (key: string, d: Destination<S, F>): void => {
    if (count(d) === 0 && d.waiters.length === 0) dests.delete(key);
    if (onSettled && [...dests.values()].every((x) => x.leased.size === 0 && x.opening === 0)) onSettled();
  };
  const lease = (key: string, session: S, reused: boolean, since: number): Lease<S> => ({
    ok: true,
    key,
    session,
    reused,
    waitedMs: Math.max(0, o.clock.now() - since),
  });

  const takeIdle = (key: string, d: Destination<S, F>): S | null => {
    // Most recently used first: the others age out and close, so the pool shrinks with the load.
    for (let e = d.idle.pop(); e; e = d.idle.pop()) {
      if (canCarry(key, e.session)) return e.session;
      close(e.session);
    }
    return null;
  };

  const openFor = async (key: string, d: Destination<S, F>, since: number): Promise<Lease<S> | AcquireFailure<F>> => {
    d.opening++;
    let r: R;
    try {
      r = await o.open(key);
    } catch (e) {
      d.opening--;
      wakeNext(key, d);
      tidy(key, d);
      throw e;
    }
    d.opening--;
    if (!r.ok) {
      wakeNext(key, d);
      tidy(key, d);
      return { ok: false, reason: 'open-failed', failure: r as F };
    }
    const session = (r as Extract<R, { ok: true }>).session as S;
    if (draining) {
      close(session);
      tidy(key, d);
      return refuse('draining', 'pool is draining');
    }
    d.leased.add(session);
    return lease(key, session, false, since);
  };

  /** A slot or a session came free: the first waiter takes it. */
  const wakeNext = (key: string, d: Destination<S, F>): void => {
    if (d.waiters.length === 0 || count(d) >= limit(o.maxConnections, key)) return;
    const w = d.waiters.shift()!;
    clearTimeout(w.timer);
    openFor(key, d, w.enqueuedAt).then(w.resolve, w.reject);
  };

  const sweepIdle = (): number => {
    const now = o.clock.now();
    let closed = 0;
    for (const [key, d] of [...dests]) {
      const keep = d.idle.filter((e) => now - e.since < o.idleMs && e.session.usable);
      for (const e of d.idle) {
        if (!keep.includes(e)) {
          close(e.session);
          closed++;
        }
      }
      d.idle = keep;
      wakeNext(key, d);
      tidy(key, d);
    }
    if (sweeper && ![...dests.values()].some((d) => d.idle.length > 0)) {
      clearInterval(sweeper);
      sweeper = null;
    }
    return closed;
  };
  const ensureSweeper = (): void => {
    if (sweeper || draining) return;
    sweeper = setInterval(sweepIdle, Math.max(10, Math.min(o.idleMs, 1000)));
    sweeper.unref();
  };

  return {
    async acquire(key) {
      if (draining) return refuse('draining', 'pool is draining');
      const d = dest(key);
      const now = o.clock.now();
      const idle = takeIdle(key, d);
      if (idle) {
        d.leased.add(idle);
        return lease(key, idle, true, now);
      }
      if (count(d) < limit(o.maxConnections, key)) return openFor(key, d, now);
      if (d.waiters.length >= maxWaiting) return refuse('queue-full', `${d.waiters.length} already waiting for ${key}`);
      return new Promise((resolve, reject) => {
        const w: Waiter<S, F> = {
          enqueuedAt: now,
          resolve,
          reject,
          timer: setTimeout(() => {
            d.waiters.splice(d.waiters.indexOf(w), 1);
            tidy(key, d);
            resolve(refuse('wait-timeout', `no connection to ${key} within ${maxWaitMs} ms`));
          }, maxWaitMs),
        };
        d.waiters.push(w);
      });
    },

    release(l, { reusable }) {
      const d = dests.get(l.key);
      if (!d?.leased.delete(l.session)) return; // released twice, or after drain
      const s = l.session;
      if (reusable && !draining && canCarry(l.key, s)) {
        const w = d.waiters.shift();
        if (w) {
          clearTimeout(w.timer);
          d.leased.add(s);
          w.resolve(lease(l.key, s, true, w.enqueuedAt));
          return;
        }
        d.idle.push({ session: s, since: o.clock.now() });
        ensureSweeper();
        tidy(l.key, d);
        return;
      }
      close(s);
      wakeNext(l.key, d);
      tidy(l.key, d);
    },

    sweepIdle,

    async drain({ graceMs = 10_000 } = {}) {
      draining = true;
      if (sweeper) clearInterval(sweeper);
      sweeper = null;
      for (const d of dests.values()) {
        for (const w of d.waiters.splice(0)) {
          clearTimeout(w.timer);
          w.resolve(refuse('draining', 'pool is draining'));
        }
        for (const e of d.idle.splice(0)) close(e.session);
      }
      const busy = (): boolean => [...dests.values()].some((d) => d.leased.size > 0 || d.opening > 0);
      if (busy()) {
        let timer: NodeJS.Timeout | undefined;
        await new Promise<void>((resolve) => {
          onSettled = resolve;
          timer = setTimeout(resolve, graceMs);
        });
        clearTimeout(timer);
        onSettled = null;
        // Leases not back in time: their sessions end the transaction in flight with 451 4.4.2.
        for (const d of dests.values()) for (const s of d.leased) close(s);
      }
      await Promise.all([...closing]);
    },

    stats(key) {
      const d = dests.get(key);
      if (!d) return { open: 0, idle: 0, leased: 0, waiting: 0 };
      return { open: count(d), idle: d.idle.length, leased: d.leased.size, waiting: d.waiters.length };
    },

    keys: () => [...dests.keys()],
  };
}
