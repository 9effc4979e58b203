/**
 * Group commit: concurrent accepts share one transaction, so a durable 202/250 costs one fsync per
 * batch instead of one per message (the trick PostgreSQL and most MTAs' queues use). The fsync is the
 * store's: SQLite with `store.durability: power-loss-safe` has the WAL flushed once per commit or
 * fewer (store/wal-sync.ts), measured by `npm run bench -- fsync` (≈ 1.2 per batch, the extra from
 * WAL checkpoints and other writers);
 * with `process-crash-safe` there is none, and a power loss may take acknowledged batches.
 *
 * While a batch commits, new work waits in the next batch; when the commit ends, the next batch
 * starts at once. No timer, so a lone request is delayed by one event-loop turn at most. If a batch transaction fails, its
 * items are retried one by one so a single bad item cannot fail its neighbours.
 */
export interface GroupCommitter<T, R> {
  submit(item: T): Promise<R>;
  /** Resolves when nothing is pending or running. */
  drain(): Promise<void>;
}

interface Pending<T, R> {
  item: T;
  resolve: (r: R) => void;
  reject: (e: unknown) => void;
}

export function createGroupCommitter<T, R>(opts: {
  /** Runs all items in one transaction and returns one result per item, in order. */
  commit: (items: T[]) => Promise<R[]>;
  maxBatch?: number;
  /**
   * How long a batch smaller than maxBatch may wait for more items before it commits (default 0).
   * For writers whose callers do not wait on the answer's latency (delivery outcomes), where fewer,
   * larger transactions write each index page once instead of once per handful of rows.
   */
  lingerMs?: number;
}): GroupCommitter<T, R> {
  const maxBatch = opts.maxBatch ?? 256;
  const lingerMs = opts.lingerMs ?? 0;
  let lingering: NodeJS.Timeout | null = null;
  let queue: Pending<T, R>[] = [];
  let running: Promise<void> | null = null;
  let scheduled = false;

  async function runBatch(batch: Pending<T, R>[]): Promise<void> {
    try {
      const results = await opts.commit(batch.map((p) => p.item));
      for (const [i, p] of batch.entries()) p.resolve(results[i]!);
    } catch (e) {
      if (batch.length === 1) {
        batch[0]!.reject(e);
        return;
      }
      for (const p of batch) {
        try {
          const [r] = await opts.commit([p.item]);
          p.resolve(r!);
        } catch (e1) {
          p.reject(e1);
        }
      }
    }
  }

  /** `now`: commit what is queued without lingering (the linger ran out, or a drain). */
  function pump(now = false): void {
    if (running || !queue.length) return;
    if (!now && lingerMs > 0 && queue.length < maxBatch) {
      lingering ??= setTimeout(() => {
        lingering = null;
        pump(true);
      }, lingerMs);
      return;
    }
    if (lingering) clearTimeout(lingering);
    lingering = null;
    const batch = queue.slice(0, maxBatch);
    queue = queue.slice(batch.length);
    running = runBatch(batch).finally(() => {
      running = null;
      pump();
    });
  }

  return {
    submit(item) {
      return new Promise<R>((resolve, reject) => {
        queue.push({ item, resolve, reject });
        if (lingering && queue.length >= maxBatch) pump(true);
        // Start at the end of this event-loop turn, not at once: every request whose bytes arrived in
        // the same I/O phase then joins the batch. On a quiet node that costs microseconds.
        if (!scheduled && !lingering) {
          scheduled = true;
          setImmediate(() => {
            scheduled = false;
            pump();
          });
        }
      });
    },
    async drain() {
      for (let i = 0; i < 1_000_000 && (running || queue.length); i++) {
        // Commit what waits (lingering, or scheduled for a turn that awaiting microtasks never
        // reaches) instead of spinning on a resolved promise.
        if (!running) pump(true);
        await (running ?? Promise.resolve());
      }
    },
  };
}
