import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { openSqlite, type SqliteDriverName } from './sqlite-driver.js';

/**
 * The WAL checkpoint thread (checkpoints.ts): its own connection to the store's file, copying the
 * WAL's committed pages into the database file every `everyMs` with a PASSIVE checkpoint, which
 * never waits for and never blocks the main connection's readers or writer. The copy and the two
 * syncs it needs (the WAL before, the database file after) then cost this thread, not the event loop.
 */
export interface CheckpointWorkerData {
  marker: typeof checkpointWorkerMarker;
  file: string;
  driver: SqliteDriverName;
  everyMs: number;
}

/** From the thread: a checkpoint's figures, or a failure (the main connection checkpoints again meanwhile). */
export type CheckpointWorkerReply = { kind: 'checkpointed'; copied: number } | { kind: 'failed'; message: string } | { kind: 'closed' };

export const checkpointWorkerMarker = 'postwarden-checkpoint-worker';

const data = workerData as CheckpointWorkerData | undefined;
if (!isMainThread && parentPort && data?.marker === checkpointWorkerMarker) {
  const port = parentPort;
  const db = openSqlite(data.file, { driver: data.driver });
  // A checkpoint syncs the WAL before copying and the database file after at NORMAL as at FULL.
  db.exec('PRAGMA synchronous = NORMAL');
  const checkpoint = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');
  let lastFailure = '';
  const timer = setInterval(() => {
    try {
      const row = checkpoint.all([])[0] as { checkpointed: number } | undefined;
      lastFailure = '';
      if (row && row.checkpointed > 0) port.postMessage({ kind: 'checkpointed', copied: row.checkpointed });
    } catch (e) {
      // Said once per distinct failure, not every tick.
      const message = e instanceof Error ? e.message : String(e);
      if (message !== lastFailure) port.postMessage({ kind: 'failed', message });
      lastFailure = message;
    }
  }, data.everyMs);
  port.on('message', (m: { close: true }) => {
    if (!m.close) return;
    clearInterval(timer);
    db.close();
    port.postMessage({ kind: 'closed' });
    port.close();
  });
}
