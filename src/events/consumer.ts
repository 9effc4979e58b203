import type { Clock, SpineEvent } from '../core/index.js';
import { createScheduledJob } from '../queue/index.js';
import type { Repositories, Store } from '../store/index.js';

/**
 * A durable consumer of the events spine: webhook dispatch, the NATS sink and exporters each are one.
 *
 * A consumer has a name and a stored position (table `consumer_cursors`). It reads the spine after
 * that position in commit order (the spine's appenders serialise, see store/repositories/events.ts),
 * hands each batch to its handler, and moves the position past the batch only once the handler has
 * returned. A crash between the two repeats the batch at the next run: delivery to the handler is at
 * least once, and handlers deduplicate by event id. A handler that throws leaves the position where
 * it was; the batch is tried again at the next tick.
 *
 * A handler whose work is writes to this store (the webhook fan-out) returns them instead of making
 * them: they commit in one transaction with the position's advance. That is one commit per batch
 * instead of two or more (each an fsync on SQLite, shared with delivery), and a crash can no longer
 * fall between the writes and the advance.
 *
 * Exactly one node runs a given consumer at a time: each run holds the job lease `consumer:<name>`
 * (queue/scheduled-job.ts); when its holder dies the lease lapses and another node resumes from the
 * stored position. The position only moves forward, so a node that lost its lease mid-batch and
 * finishes late cannot rewind what the new holder did.
 */
export interface ConsumerDeps {
  name: string;
  store: Pick<Store, 'events' | 'consumerCursors' | 'jobLeases' | 'transaction'>;
  /**
   * Receives events in spine order, at most `batchSize` at a time. Throw to have the batch retried.
   * May return writes to commit together with the advance past the batch (they run in that transaction).
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: handlers without writes (the NATS sink) return nothing.
  handle: (events: SpineEvent[]) => Promise<void | BatchWrites>;
  clock: Clock;
  /** This node's identity, unique per process. */
  owner: string;
  /** Where a consumer that never ran starts: the first event ever (default) or the events appended from now on. */
  startAt?: 'beginning' | 'end';
  /** Events per handler call (default 500). */
  batchSize?: number;
  /** How often the consumer looks for new events (default 250 ms). */
  pollMs?: number;
  /** How long the lease holds without renewal (default 30 s). */
  leaseMs?: number;
  /** While set and above `pollMs`: the least time between two runs (a consumer yielding the writer to others). */
  minIntervalMs?: () => number;
  /** Batches per run at most, so one run is bounded in time (default 100); the next tick carries on. */
  maxBatchesPerRun?: number;
  log?: { warn(obj: object, msg: string): void };
}

/** A handler's writes for one batch, run inside the transaction that advances the position past it. */
export interface BatchWrites {
  write(tx: Repositories): Promise<void>;
  /** Called once they are committed. */
  committed?(): void;
}

export interface Consumer {
  readonly name: string;
  /** Claims the lease and, when held, drains what is there (bounded); true when this node ran. */
  tick(): Promise<boolean>;
  start(): void;
  /** Stops polling, waits for a batch in hand, and gives the lease up for another node. */
  stop(): Promise<void>;
  /** The stored position: the cursor of the last event handled ('0' before any). */
  position(): Promise<string>;
}

export function createConsumer(deps: ConsumerDeps): Consumer {
  const { name, store, clock } = deps;
  const batchSize = deps.batchSize ?? 500;
  const maxBatches = deps.maxBatchesPerRun ?? 100;

  async function startingPosition(): Promise<number> {
    const stored = await store.consumerCursors.get(name);
    if (stored !== undefined) return stored;
    const first = deps.startAt === 'end' ? await store.events.lastCursor() : 0;
    return store.consumerCursors.init(name, first, clock.now());
  }

  let lastRun = Number.NEGATIVE_INFINITY;
  async function drain(): Promise<void> {
    if (deps.minIntervalMs && performance.now() - lastRun < deps.minIntervalMs()) return;
    lastRun = performance.now();
    let position = await startingPosition();
    for (let i = 0; i < maxBatches; i++) {
      const events = await store.events.page({ after: position, limit: batchSize });
      if (!events.length) return;
      const writes = await deps.handle(events);
      position = Number(events[events.length - 1]!.cursor);
      const at = position;
      if (writes) {
        // Writes first: on SQLite the transaction then holds the write lock from its first statement.
        await store.transaction(async (tx) => {
          await writes.write(tx);
          await tx.consumerCursors.advance(name, at, clock.now());
        });
        writes.committed?.();
      } else await store.consumerCursors.advance(name, position, clock.now());
      if (events.length < batchSize) return;
    }
  }

  const job = createScheduledJob({
    name: `consumer:${name}`,
    everyMs: deps.pollMs ?? 250,
    leaseMs: deps.leaseMs ?? 30_000,
    run: drain,
    leases: store.jobLeases,
    owner: deps.owner,
    clock,
    ...(deps.log ? { log: deps.log } : {}),
  });

  return {
    name,
    tick: () => job.tick(),
    start: () => job.start(),
    stop: () => job.stop(),
    async position() {
      return String((await store.consumerCursors.get(name)) ?? 0);
    },
  };
}
