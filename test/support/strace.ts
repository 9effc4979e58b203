import { type ChildProcess, execFileSync, spawn } from 'node:child_process';

/**
 * strace as a witness of durability (test/accept/power-loss.test.ts, bench/fsync.ts): it follows a
 * server process and logs, in order, its writes to the SQLite WAL (whole pages, so the rows in them
 * can be read), its fsyncs and the HTTP answers it writes to sockets. A power loss keeps only what was
 * fsynced, so "each 202 was written after a flush of the WAL that began once its message's commit was
 * written" is what a 202 surviving a power loss needs, and it is checkable from the log.
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
 * the main thread, where Node runs SQLite and writes to sockets; the store flushes the WAL from
 * Node's thread pool (src/store/wal-sync.ts), so a durability check follows them all. Strings are
 * logged up to a WAL page (4,096 bytes) and its frame header, to find each answer's message in the
 * WAL. Stop it with SIGINT (it detaches).
 */
export async function attachStrace(pid: number, out: string, threads = true): Promise<ChildProcess> {
  const args = ['-p', String(pid), '-y', '-s', '4200', '-e', 'trace=write,writev,pwrite64,pwritev,fsync,fdatasync', '-o', out];
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
  /** Groups of 202s written together (runs of answers with no WAL write between). */
  batches: number;
  /**
   * 202s written before a flush of the WAL that began after their message's commit had ended: each
   * could be lost on power loss. Includes the unattributed ones.
   */
  unsynced202: number;
  /** 202s whose message the log does not show in any WAL write (counted as unsynced). */
  unattributed202: number;
  walWrites: number;
  walSyncs: number;
  /** fsync/fdatasync on anything else (the database file at checkpoints, directories). */
  otherSyncs: number;
}

/** The bytes of the C string strace printed at `line[from]` (the opening quote). */
function cString(line: string, from: number): Buffer {
  const out: number[] = [];
  const simple: Record<string, number> = { n: 10, t: 9, v: 11, f: 12, r: 13, '"': 34, '\\': 92 };
  for (let i = from + 1; i < line.length; i++) {
    const c = line[i]!;
    if (c === '"') break;
    if (c !== '\\') {
      out.push(c.charCodeAt(0));
      continue;
    }
    const n = line[++i]!;
    const octal = /^[0-7]{1,3}/.exec(line.slice(i, i + 3));
    if (octal) {
      out.push(Number.parseInt(octal[0], 8));
      i += octal[0].length - 1;
    } else if (n === 'x') {
      out.push(Number.parseInt(line.slice(i + 1, i + 3), 16));
      i += 2;
    } else out.push(simple[n] ?? n.charCodeAt(0));
  }
  return Buffer.from(out);
}

const MESSAGE_ID = /msg_[0-9A-Za-z]{26}/g;

/**
 * Reads a log written by `attachStrace`, in order. SQLite writes each WAL frame as a 24-byte header,
 * whose bytes 4–7 are non-zero for the frame that commits a transaction, then the page; a message's
 * commit is the first commit frame written with or after the first page holding its id. A flush of
 * the WAL (fsync or fdatasync, by any thread) covers the commits written before it began, from the
 * moment it ends; with -f a call can be split by others' (`<unfinished ...>` … `<... fdatasync
 * resumed>`): a write counts when it ends, a flush from when it began. A 202 is synced when its
 * message's commit was covered by then.
 */
export function readDurabilityTrace(log: string): DurabilityTrace {
  const r: DurabilityTrace = {
    answers202: 0,
    batches: 0,
    unsynced202: 0,
    unattributed202: 0,
    walWrites: 0,
    walSyncs: 0,
    otherSyncs: 0,
  };
  let inBatch = false;
  /** Commit frames written so far, and how many of them an ended flush covers. */
  let commits = 0;
  let durable = 0;
  /** The last frame header was a commit's: its page, the next WAL write, completes the commit. */
  let commitHeader = false;
  /** Ids seen in WAL pages whose commit frame is not yet written. */
  let pending = new Set<string>();
  const commitOf = new Map<string, number>();
  /** Flushes of the WAL begun and not yet ended, by thread: the commits written when each began. */
  const flushing = new Map<string, number>();
  const flushed = (covers: number) => {
    r.walSyncs++;
    durable = Math.max(durable, covers);
  };
  /** What a WAL write line says, applied when the write has ended. */
  const walWrite = (line: string, from: number) => {
    r.walWrites++;
    inBatch = false;
    const quote = line.indexOf('"', from);
    const size = quote < 0 ? Number.NaN : Number(/^"(?:[^"\\]|\\.)*"(?:\.\.\.)?, (\d+)/.exec(line.slice(quote))?.[1]);
    if (size === 24) {
      commitHeader = cString(line, quote).readUInt32BE(4) !== 0;
      return;
    }
    for (const id of line.match(MESSAGE_ID) ?? []) if (!commitOf.has(id)) pending.add(id);
    if (commitHeader) {
      commits++;
      for (const id of pending) commitOf.set(id, commits);
      pending = new Set();
      commitHeader = false;
    }
  };
  /** WAL writes begun and not yet ended, by thread (a flush that begins meanwhile need not cover them). */
  const writing = new Map<string, { line: string; from: number }>();
  for (const line of log.split('\n')) {
    const resumed = /^(?:(\d+)\s+)?<\.\.\. (\w+) resumed>/.exec(line);
    if (resumed) {
      const tid = resumed[1] ?? '';
      if (resumed[2] === 'fsync' || resumed[2] === 'fdatasync') {
        const covers = flushing.get(tid);
        flushing.delete(tid);
        if (covers !== undefined && /=\s*0\s*$/.test(line)) flushed(covers);
      } else {
        const begun = writing.get(tid);
        writing.delete(tid);
        if (begun) walWrite(begun.line, begun.from);
      }
      continue;
    }
    // With -f each line starts with the thread id.
    const m = /^(?:(\d+)\s+)?(\w+)\(\d+<([^>]*)>/.exec(line);
    if (!m) continue;
    const [head, tid, call, path] = m;
    const sync = call === 'fsync' || call === 'fdatasync';
    if (path!.endsWith('-wal')) {
      if (sync) {
        if (line.includes('<unfinished ...>')) flushing.set(tid ?? '', commits);
        else if (/=\s*0\s*$/.test(line)) flushed(commits);
      } else if (line.includes('<unfinished ...>')) writing.set(tid ?? '', { line, from: head.length });
      else walWrite(line, head.length);
    } else if (sync) r.otherSyncs++;
    else if (path!.startsWith('socket:') && line.includes('"HTTP/1.1 202')) {
      r.answers202++;
      if (!inBatch) r.batches++;
      inBatch = true;
      const id = /\\"id\\":\\"(msg_[0-9A-Za-z]{26})/.exec(line)?.[1];
      const commit = id === undefined ? undefined : commitOf.get(id);
      if (commit === undefined) r.unattributed202++;
      if (commit === undefined || commit > durable) r.unsynced202++;
    }
  }
  return r;
}
