import type { Clock } from '../core/index.js';
import type { LeasedWork } from './leased-work.js';

/**
 * The one worker loop for leased work (recipients, webhook attempts). It claims a window of due
 * items (memory never holds more than `concurrency` of them, whatever the queue depth), groups them
 * (a message's recipients go in one SMTP transaction; an endpoint's attempts in one POST), runs each
 * group, heartbeats the leases of what it is running, and at stop returns what it did not finish.
 *
 * Claims come in windows, not one slot at a time: each claim is a write transaction, so while work
 * is in flight the loop waits until `minClaim` of its slots are free (a finished group wakes it).
 * A failed claim (the database away) is retried after a second, not at every poll.
 */
export interface WorkerDeps<Item extends { id: string }> {
  work: LeasedWork<Item>;
  /** Items with the same key run together, in one call to `run`. */
  groupBy: (item: Item) => string;
  /** Does the work of one group and settles it (the kind's own settle, guarded by the lease owner). */
  run: (group: Item[]) => Promise<void>;
  /**
   * Called once per claimed window before it is grouped and run: loads what the window needs in one
   * round trip instead of one per group (webhook payloads). A failure leaves the leases to expire.
   */
  prepare?: (claimed: Item[]) => Promise<void>;
  clock: Clock;
  owner: string;
  concurrency: number;
  /**
   * While work is in flight, claim only once this many slots are free (default an eighth of
   * `concurrency`): every claim is a write transaction (an fsync on SQLite), so a kind whose items
   * are small (webhook attempts) claims in larger windows.
   */
  minClaim?: number;
  /**
   * With `minClaim` above what is free, claim what there is room for anyway once this long passed
   * since the last claim (ms), so slow groups holding the slots delay the rest by this much at most.
   */
  smallClaimAfterMs?: number;
  /**
   * The loop claims at most once per this many ms (default: no bound): bounds the write
   * transactions a kind of work adds per second, so webhooks cannot crowd delivery off the writer.
   */
  claimIntervalMs?: number | (() => number);
  /**
   * True while the kind holds finished work whose settles commit with the next claim (queue/
   * settle-queue.ts): that commit is paid anyway, so the loop claims whatever room there is then,
   * without waiting for `minClaim` slots.
   */
  settlesWaiting?: () => boolean;
  leaseMs: number;
  pollMs: number;
  log?: { error(obj: object, msg: string): void };
  /** Told the number of items in flight whenever it changes (a gauge). */
  onInFlight?: (n: number) => void;
  /** Called at stop after the running groups finished, before the leases left are returned (flush settles). */
  beforeRelease?: () => Promise<void>;
  /** What the loop is called in logs ('delivery', 'webhook'). */
  name: string;
}

export interface Worker {
  start(): void;
  /** New work is there: look now instead of at the next poll. */
  poke(): void;
  /** Stops claiming, lets running groups finish (bounded), and returns any leases left. */
  stop(timeoutMs?: number): Promise<void>;
  inFlight(): number;
  /** One claim round now (tests drive the loop by hand with a fake clock); the number claimed. */
  tick(): Promise<number>;
  /** Resolves when no group is running. */
  idle(): Promise<void>;
}

export function createWorker<Item extends { id: string }>(deps: WorkerDeps<Item>): Worker {
  const { clock, work } = deps;
  let running = false;
  let inFlight = 0;
  let wake: (() => void) | null = null;
  let loop: Promise<void> | null = null;
  const active = new Set<Promise<void>>();
  /** Items this node is working on now: the only leases the heartbeat extends. */
  const working = new Set<string>();
  let heartbeat: NodeJS.Timeout | null = null;
  let lastClaim = 0;
  const minClaim = Math.min(deps.concurrency, Math.max(1, deps.minClaim ?? Math.floor(deps.concurrency / 8)));

  function track(p: Promise<void>, n: number): void {
    inFlight += n;
    deps.onInFlight?.(inFlight);
    active.add(p);
    void p.finally(() => {
      inFlight -= n;
      deps.onInFlight?.(inFlight);
      active.delete(p);
      wake?.();
    });
  }

  async function tick(): Promise<number> {
    const room = deps.concurrency - inFlight;
    if (room <= 0) return 0;
    if (inFlight > 0 && room < minClaim && !deps.settlesWaiting?.()) {
      const after = deps.smallClaimAfterMs;
      if (after === undefined || performance.now() - lastClaim < after) return 0;
    }
    lastClaim = performance.now();
    const claimed = await work.claimDue({ owner: deps.owner, now: clock.now(), leaseMs: deps.leaseMs, limit: room });
    if (claimed.length && deps.prepare) await deps.prepare(claimed);
    const groups = new Map<string, Item[]>();
    for (const item of claimed) {
      const key = deps.groupBy(item);
      const g = groups.get(key);
      if (g) g.push(item);
      else groups.set(key, [item]);
    }
    for (const g of groups.values()) {
      for (const item of g) working.add(item.id);
      const done = deps
        .run(g)
        .catch((err) => deps.log?.error({ err }, `${deps.name}: a group failed; its leases will expire and the work return`))
        .finally(() => {
          for (const item of g) working.delete(item.id);
        });
      track(done, g.length);
    }
    return claimed.length;
  }

  function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        wake = null;
        resolve();
      }
      wake = done;
    });
  }

  /**
   * Lease heartbeat: while this node lives its in-flight leases never lapse, however long a slow
   * remote or a loaded machine holds them; another node takes them over only after this one died.
   */
  async function renewLeases(): Promise<void> {
    if (working.size === 0) return;
    try {
      await work.renewLeases(deps.owner, [...working], clock.now() + deps.leaseMs);
    } catch (err) {
      deps.log?.error({ err }, `${deps.name}: renewing leases failed`);
    }
  }

  return {
    start(): void {
      if (running) return;
      running = true;
      heartbeat = setInterval(() => void renewLeases(), Math.max(1000, Math.floor(deps.leaseMs / 3)));
      heartbeat.unref();
      loop = (async () => {
        while (running) {
          // The loop's pace (a tick called by hand, as tests do, is not held back).
          const since = performance.now() - lastClaim;
          const interval = typeof deps.claimIntervalMs === 'function' ? deps.claimIntervalMs() : (deps.claimIntervalMs ?? 0);
          if (interval && since < interval) {
            await sleep(Math.ceil(interval - since));
            continue;
          }
          let n = 0;
          let failed = false;
          try {
            n = await tick();
          } catch (err) {
            failed = true;
            deps.log?.error({ err }, `${deps.name}: claiming due work failed`);
          }
          if (!running) break;
          if (failed) await sleep(Math.max(deps.pollMs, 1000));
          else if (n === 0 || inFlight >= deps.concurrency) await sleep(deps.pollMs);
        }
      })();
    },
    poke(): void {
      wake?.();
    },
    async stop(timeoutMs = 10_000): Promise<void> {
      running = false;
      wake?.();
      await loop;
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise((r) => {
        timer = setTimeout(r, timeoutMs);
      });
      // Cleared, or the bound alone would hold the process open for timeoutMs after a clean stop.
      await Promise.race([Promise.allSettled([...active]), bound]).finally(() => clearTimeout(timer));
      if (heartbeat) clearInterval(heartbeat);
      heartbeat = null;
      await deps.beforeRelease?.();
      try {
        await work.releaseOwned(deps.owner, clock.now());
      } catch (err) {
        // The database is away: the leases lapse on their own and the work returns then.
        deps.log?.error({ err }, `${deps.name}: returning leases at stop failed; they will expire`);
      }
    },
    inFlight: () => inFlight,
    tick,
    async idle() {
      while (active.size) await Promise.allSettled([...active]);
    },
  };
}
