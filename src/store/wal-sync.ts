import { close, fdatasync, open } from 'node:fs';
import type { DatabaseConnection, Dialect, Driver, QueryResult } from 'kysely';

/**
 * Power-loss safety on SQLite without stopping the event loop at every commit (docs/storage.md,
 * Durability). With `synchronous=FULL` SQLite fsyncs the WAL inside COMMIT, on the thread that runs
 * it: Node's main thread, which then serves no request and signs no message for the length of a disk
 * flush (a quarter of the main thread's time in `bench accept --open-loop 300`). Here SQLite runs with
 * `synchronous=NORMAL` (a commit only writes the WAL) and the store fdatasyncs the WAL itself, in
 * Node's thread pool, before the transaction's promise resolves: whoever answers after `await
 * store.transaction(...)` (a 202, a 250) answers after the flush, as before, while the main thread
 * goes on with other work. A write outside a transaction waits for its flush the same way.
 *
 * Group flush: one flush runs at a time and covers every commit written before it began; commits
 * go on while it runs (reads too), and those made meanwhile wait for the next flush, which covers
 * them all. test/accept/power-loss.test.ts checks under strace that no 202 precedes the end of a
 * flush that began after its message's commit.
 */
export interface WalSync {
  /** Runs `fn`, a commit (or a write outside a transaction), and returns its place in the WAL's order. */
  committed<T>(fn: () => Promise<T>): Promise<{ result: T; seq: number }>;
  /** Resolves once a flush that started after commit `seq` has ended. */
  flushed(seq: number): Promise<void>;
  /** Flushes started (tests, benches). */
  readonly flushes: number;
}

/** fdatasync of the WAL file; a missing WAL (no write yet, or the last connection closed) has nothing to flush. */
export function datasyncFile(path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    open(path, 'r+', (err, fd) => {
      if (err) return err.code === 'ENOENT' ? resolve() : reject(err);
      fdatasync(fd, (syncErr) => close(fd, () => (syncErr ? reject(syncErr) : resolve())));
    });
  });
}

export function createWalSync(sync: () => Promise<void>): WalSync {
  /** Commits so far, and the count that the last ended flush covered (those before it began). */
  let commits = 0;
  let covered = 0;
  let running = false;
  let flushes = 0;
  /**
   * A flush that failed fails every later one: the kernel may have dropped the pages it could not
   * write, and a later fdatasync can succeed without them (PostgreSQL stops the server for the same
   * reason). Writes fail until the process restarts and SQLite recovers from what the disk holds.
   */
  let failed: unknown;
  let waiting: { seq: number; resolve: () => void; reject: (e: unknown) => void }[] = [];

  function startFlush(): void {
    const upTo = commits;
    running = true;
    flushes++;
    sync().then(
      () => {
        running = false;
        covered = Math.max(covered, upTo);
        const due = waiting.filter((w) => w.seq <= covered);
        waiting = waiting.filter((w) => w.seq > covered);
        for (const w of due) w.resolve();
        // Commits that ended while this one ran: the next flush covers them all.
        if (waiting.length) startFlush();
      },
      (e: unknown) => {
        running = false;
        failed = e;
        for (const w of waiting.splice(0)) w.reject(e);
      },
    );
  }

  return {
    async committed(fn) {
      const result = await fn();
      return { result, seq: ++commits };
    },
    flushed(seq) {
      if (seq <= covered) return Promise.resolve();
      if (failed !== undefined) return Promise.reject(failed);
      return new Promise<void>((resolve, reject) => {
        waiting.push({ seq, resolve, reject });
        if (!running) startFlush();
      });
    },
    get flushes() {
      return flushes;
    },
  };
}

/**
 * A statement that may change the database. Over-counting (a pragma that only reads) costs a flush;
 * under-counting would answer before the disk has the write, so anything not plainly a read counts.
 */
export function isWriteSql(text: string): boolean {
  if (/^\s*(select|begin|explain)\b/i.test(text)) return false;
  if (/^\s*with\b/i.test(text)) return /\b(insert|update|delete|replace)\b/i.test(text);
  return true;
}

/** `dialect` (SQLite's, one connection) with every write flushed by `wal` before it resolves. */
export function walSyncedDialect(dialect: Dialect, wal: WalSync): Dialect {
  return {
    createAdapter: () => dialect.createAdapter(),
    createQueryCompiler: () => dialect.createQueryCompiler(),
    createIntrospector: (db) => dialect.createIntrospector(db),
    createDriver: () => walSyncedDriver(dialect.createDriver(), wal),
  };
}

function walSyncedDriver(inner: Driver, wal: WalSync): Driver {
  // SQLite's driver has one connection behind a mutex: one use of it (a transaction, or a statement)
  // at a time, so these flags describe the use in progress.
  let inTransaction = false;
  let wrote = false;
  /** The commit this use of the connection made, to be flushed before it is released. */
  let seq = 0;
  let conn: DatabaseConnection | undefined;
  let wrapped: DatabaseConnection | undefined;
  const original = () => conn!;
  return {
    init: () => inner.init(),
    async acquireConnection() {
      const c = await inner.acquireConnection();
      if (c !== conn) {
        conn = c;
        wrapped = {
          async executeQuery<R>(q: Parameters<DatabaseConnection['executeQuery']>[0]): Promise<QueryResult<R>> {
            if (!isWriteSql(q.sql)) return c.executeQuery<R>(q);
            wrote = true;
            // Inside a transaction the writes reach the WAL at COMMIT.
            if (inTransaction) return c.executeQuery<R>(q);
            const done = await wal.committed(() => c.executeQuery<R>(q));
            seq = done.seq;
            return done.result;
          },
          streamQuery: (q, chunkSize) => c.streamQuery(q, chunkSize),
        };
      }
      return wrapped!;
    },
    async beginTransaction(_c, settings) {
      await inner.beginTransaction(original(), settings);
      inTransaction = true;
    },
    async commitTransaction() {
      inTransaction = false;
      if (!wrote) return inner.commitTransaction(original());
      seq = (await wal.committed(() => inner.commitTransaction(original()))).seq;
    },
    async rollbackTransaction() {
      inTransaction = false;
      await inner.rollbackTransaction(original());
    },
    ...(inner.savepoint ? { savepoint: (_c, name, compile) => inner.savepoint!(original(), name, compile) } : {}),
    ...(inner.rollbackToSavepoint
      ? { rollbackToSavepoint: (_c, name, compile) => inner.rollbackToSavepoint!(original(), name, compile) }
      : {}),
    ...(inner.releaseSavepoint ? { releaseSavepoint: (_c, name, compile) => inner.releaseSavepoint!(original(), name, compile) } : {}),
    async releaseConnection() {
      const mine = seq;
      seq = 0;
      wrote = false;
      inTransaction = false;
      // The connection first: other work (the next commit too) goes on while the disk flushes.
      await inner.releaseConnection(original());
      if (mine) await wal.flushed(mine);
    },
    destroy: () => inner.destroy(),
  };
}
