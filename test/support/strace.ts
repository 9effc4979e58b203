import { type ChildProcess, execFileSync, spawn } from 'node:child_process';

/**
 * strace as a witness of durability (test/accept/power-loss.test.ts, bench/fsync.ts): it follows a
 * server process and logs, in order, its writes to the SQLite WAL, its fsyncs and the HTTP answers it
 * writes to sockets. A power loss keeps only what was fsynced, so "each 202 was written after the WAL
 * was fsynced" is what a 202 surviving a power loss needs, and it is checkable from the log.
 */
export const straceAvailable = (() => {
  try {
    execFileSync('strace', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/**
 * Attaches strace to `pid` and resolves once it is attached. `threads`: every thread (-f), else only
 * the main thread, where Node runs SQLite and writes to sockets. Stop it with SIGINT (it detaches).
 */
export async function attachStrace(pid: number, out: string, threads = false): Promise<ChildProcess> {
  const args = ['-p', String(pid), '-y', '-s', '24', '-e', 'trace=write,writev,pwrite64,pwritev,fsync,fdatasync', '-o', out];
  const child = spawn('strace', threads ? ['-f', ...args] : args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`strace did not attach in 10 s: ${err}`)), 10_000);
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (/attached/.test(err)) {
        clearTimeout(timer);
        resolve();
      } else if (/Operation not permitted|attach: ptrace/.test(err)) {
        clearTimeout(timer);
        reject(new Error(`strace cannot attach: ${err.trim()}`));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`strace exited with ${code}: ${err.trim()}`));
    });
  });
  return child;
}

export interface DurabilityTrace {
  /** `HTTP/1.1 202` answers written to sockets. */
  answers202: number;
  /** Groups of 202s written together after one commit (runs of answers with no WAL write between). */
  batches: number;
  /** 202s written while the WAL held writes not yet fsynced: each could be lost on power loss. */
  unsynced202: number;
  walWrites: number;
  walSyncs: number;
  /** fsync/fdatasync on anything else (the database file at checkpoints, directories). */
  otherSyncs: number;
}

/** Reads a log written by `attachStrace`, in order: a WAL write makes the WAL dirty, a WAL fsync clean. */
export function readDurabilityTrace(log: string): DurabilityTrace {
  let dirty = false;
  let inBatch = false;
  const r: DurabilityTrace = { answers202: 0, batches: 0, unsynced202: 0, walWrites: 0, walSyncs: 0, otherSyncs: 0 };
  for (const line of log.split('\n')) {
    // With -f each line starts with the thread id.
    const m = /^(?:\d+\s+)?(\w+)\(\d+<([^>]*)>/.exec(line);
    if (!m) continue;
    const [, call, path] = m;
    const sync = call === 'fsync' || call === 'fdatasync';
    if (path!.endsWith('-wal')) {
      if (sync) {
        dirty = false;
        r.walSyncs++;
      } else {
        dirty = true;
        r.walWrites++;
        inBatch = false;
      }
    } else if (sync) r.otherSyncs++;
    else if (path!.startsWith('socket:') && line.includes('"HTTP/1.1 202')) {
      r.answers202++;
      if (dirty) r.unsynced202++;
      if (!inBatch) r.batches++;
      inBatch = true;
    }
  }
  return r;
}
