import type { Worker } from 'node:worker_threads';
import { startModuleWorker } from '../core/index.js';
import { type CheckpointWorkerData, type CheckpointWorkerReply, checkpointWorkerMarker } from './checkpoint-worker.js';
import type { SqliteConnection } from './sqlite-driver.js';

/**
 * Where SQLite's WAL checkpoints run (docs/storage.md). By default SQLite checkpoints inside the
 * COMMIT that takes the WAL past 1,000 pages, on the connection's thread: Node's main thread. Such a
 * commit copies those pages into the database file and waits for two disk syncs; in `bench deliver`
 * 22 of 304 commits took over 2 ms, 180 of the 252 ms all commits took, while the event loop served
 * no request and signed no message.
 *
 * `thread` (the server's choice): a worker thread with its own connection runs a PASSIVE checkpoint
 * every `everyMs` (checkpoint-worker.ts), and the main connection's automatic checkpoint stays only
 * as a safety net, at FALLBACK_PAGES, should the thread fall that far behind; if the thread stops,
 * SQLite's default is back. `inline`
 * (short-lived processes: the CLI, tests that open a store): SQLite's default, no thread.
 */
export type CheckpointMode = 'inline' | 'thread';

/** WAL pages (4 KiB) past which the main connection checkpoints by itself while the thread runs. */
const FALLBACK_PAGES = 4000;
/** The thread holds a connection and a timer: a small heap is plenty. */
const THREAD_HEAP = { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 2 };
/** SQLite's own automatic checkpoint, restored if the thread stops. */
const DEFAULT_PAGES = 1000;

export interface CheckpointThread {
  /** Checkpoints that copied pages, pages copied, failures (tests). */
  stats(): { checkpoints: number; pages: number; failures: number };
  /** Stops the thread after closing its connection. */
  close(): Promise<void>;
}

export interface CheckpointThreadOptions {
  file: string;
  /** The main connection: its automatic checkpoint is moved out of the way, and back if the thread stops. */
  main: SqliteConnection;
  everyMs?: number;
  log?: { warn(obj: object, msg: string): void };
  /** Starts the thread; injected by tests. */
  spawnWorker?: (data: CheckpointWorkerData) => Worker;
}

export function startCheckpointThread(o: CheckpointThreadOptions): CheckpointThread {
  const data: CheckpointWorkerData = { marker: checkpointWorkerMarker, file: o.file, driver: o.main.driver, everyMs: o.everyMs ?? 100 };
  const spawn =
    o.spawnWorker ?? ((d) => startModuleWorker(import.meta.url, 'checkpoint-worker', { workerData: d, resourceLimits: THREAD_HEAP }));
  const worker = spawn(data);
  // Never what keeps the process alive.
  worker.unref();
  o.main.exec(`PRAGMA wal_autocheckpoint = ${FALLBACK_PAGES}`);
  const stats = { checkpoints: 0, pages: 0, failures: 0 };
  let closing = false;
  let closed: () => void = () => undefined;
  const done = new Promise<void>((resolve) => {
    closed = resolve;
  });
  worker.on('message', (m: CheckpointWorkerReply) => {
    if (m.kind === 'checkpointed') {
      stats.checkpoints++;
      stats.pages += m.copied;
    } else if (m.kind === 'failed') {
      stats.failures++;
      o.log?.warn(
        { reason: m.message },
        'WAL checkpoint in its thread failed; the main connection checkpoints past its fallback meanwhile',
      );
    } else closed();
  });
  worker.on('error', (err) => o.log?.warn({ err }, 'WAL checkpoint thread failed'));
  worker.on('exit', () => {
    closed();
    if (closing) return;
    // Checkpoints back where SQLite does them by default, so the WAL does not grow past the fallback.
    try {
      o.main.exec(`PRAGMA wal_autocheckpoint = ${DEFAULT_PAGES}`);
    } catch {
      // The main connection closed first: nothing left to checkpoint for.
    }
    o.log?.warn({}, 'WAL checkpoint thread stopped; checkpoints run inline again');
  });
  return {
    stats: () => ({ ...stats }),
    async close() {
      if (closing) return done;
      closing = true;
      worker.postMessage({ close: true });
      // A wedged thread (a checkpoint stuck on the disk) is stopped rather than waited for.
      const timer = setTimeout(() => void worker.terminate(), 5000);
      await done;
      clearTimeout(timer);
    },
  };
}
