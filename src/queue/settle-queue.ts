/**
 * Settles that ride on the next claim. A worker loop (queue/worker.ts) that settles finished work and
 * then claims more pays two commits per cycle; on SQLite with `store.durability: power-loss-safe`
 * each is an fsync on the event loop, and delivery shares that one writer. Here finished work waits
 * in memory for the loop's next claim, and both go in one transaction: one commit per cycle. The
 * settles come first in it, so work they release (a message's next webhook event, which waits for
 * the previous one to be done) is claimable in that same statement.
 *
 * A settle not yet committed is, for everyone else, work still in flight under its lease: if the
 * process dies now the item is due again when the lease lapses and is done twice, which the leased
 * work contract already allows for what was in flight at a crash (the same webhook-id is sent).
 * Settles still queued `lingerMs` after the first of them (no claim came: the loop is idle or
 * stopping) commit on their own. A transaction that fails puts its settles back for the next one.
 */
export interface SettleQueue<S, Tx> {
  /** Queues a settle for the next claim's transaction (or its own, after `lingerMs`). */
  add(item: S): void;
  /** Runs `claim` in one transaction with every settle queued so far, applied first. */
  claimWith<R>(claim: (tx: Tx) => Promise<R>): Promise<R>;
  /** True while settles wait: the next claim commits them, so it is worth making even for a small window. */
  waiting(): boolean;
  /** Commits what is queued now (a stop, a test); resolves when nothing is queued or committing. */
  drain(): Promise<void>;
}

export function createSettleQueue<S, Tx>(o: {
  transaction: <R>(fn: (tx: Tx) => Promise<R>) => Promise<R>;
  /** Applies settles in the caller's transaction. */
  apply: (tx: Tx, items: S[]) => Promise<void>;
  lingerMs: number;
  log?: { error(obj: object, msg: string): void };
}): SettleQueue<S, Tx> {
  let queued: S[] = [];
  let timer: NodeJS.Timeout | null = null;
  let alone: Promise<void> | null = null;

  function arm(ms: number): void {
    if (timer || !queued.length) return;
    timer = setTimeout(() => {
      timer = null;
      void flushAlone();
    }, ms);
    timer.unref();
  }

  function take(): S[] {
    if (timer) clearTimeout(timer);
    timer = null;
    const items = queued;
    queued = [];
    return items;
  }

  function putBack(items: S[], err: unknown): void {
    o.log?.error({ err, settles: items.length }, 'committing settles failed; retrying with the next transaction');
    queued = [...items, ...queued];
    // The database may be away: not at every linger.
    arm(Math.max(o.lingerMs, 1000));
  }

  function flushAlone(): Promise<void> {
    const run = (async () => {
      const items = take();
      if (!items.length) return;
      try {
        await o.transaction((tx) => o.apply(tx, items));
      } catch (err) {
        putBack(items, err);
      }
    })();
    const tracked: Promise<void> = run.finally(() => {
      if (alone === tracked) alone = null;
    });
    alone = tracked;
    return run;
  }

  return {
    add(item) {
      queued.push(item);
      arm(o.lingerMs);
    },
    async claimWith(claim) {
      const items = take();
      try {
        return await o.transaction(async (tx) => {
          if (items.length) await o.apply(tx, items);
          return claim(tx);
        });
      } catch (err) {
        if (items.length) putBack(items, err);
        throw err;
      }
    },
    waiting: () => queued.length > 0,
    async drain() {
      while (alone) await alone;
      if (queued.length) await flushAlone();
    },
  };
}
