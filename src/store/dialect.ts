import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { type Dialect, type Kysely, PostgresDialect, type SqliteDatabase, SqliteDialect, type SqliteStatement, sql } from 'kysely';
import pg from 'pg';
import { type CheckpointMode, type CheckpointThread, startCheckpointThread } from './checkpoints.js';
import { withCommitHooks } from './commit-hooks.js';
import { openSqlite, type SqliteConnection, type SqliteDriverName, type SqliteDriverSetting } from './sqlite-driver.js';
import { createWalSync, datasyncFile, type WalSync, walSyncedDialect } from './wal-sync.js';

/**
 * Where the two databases differ, and nowhere else. Everything outside this file and the few
 * dialect branches in repositories is plain portable SQL.
 */
export type DialectName = 'sqlite' | 'postgres';

export interface DialectCapabilities {
  name: DialectName;
  kysely: Dialect;
  /** Column type for message bodies. */
  blobType: 'blob' | 'bytea';
  /** Column type for millisecond times and counters that outgrow int32. */
  bigintType: 'integer' | 'bigint';
  /** SQLite: which driver opened the file (`store.sqliteDriver`). */
  sqliteDriver?: SqliteDriverName;
  /** SQLite, power-loss-safe: the store's own flush of the WAL after each commit (wal-sync.ts). */
  walSync?: WalSync;
  /** SQLite with `checkpoints: 'thread'`: the checkpoint thread (checkpoints.ts). */
  checkpoints?: CheckpointThread;
  /** Closes what the dialect opened beside Kysely's connection; runs before Kysely's destroy. */
  close?: () => Promise<void>;
  /** SQLite: runs a function right after the transaction in progress commits (commit-hooks.ts). */
  onCommit?: (fn: () => void) => void;
}

export interface SqliteDialectOptions {
  durability?: Durability;
  driver?: SqliteDriverSetting;
  /** Where WAL checkpoints run (checkpoints.ts): `inline`, SQLite's default, or in a `thread`. */
  checkpoints?: CheckpointMode;
  log?: { warn(obj: object, msg: string): void };
}

/**
 * What an acknowledged (202/250) message survives. `power-loss-safe`: every commit is on stable
 * storage before it returns. `process-crash-safe`: a commit survives `kill -9` of the process but the
 * last ones may be lost when the machine loses power or the kernel panics (faster: no fsync per commit).
 */
export type Durability = 'power-loss-safe' | 'process-crash-safe';

export function sqliteDialect(file: string, o: SqliteDialectOptions = {}): DialectCapabilities {
  const durability = o.durability ?? 'power-loss-safe';
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const db = openSqlite(file, { driver: o.driver ?? 'auto' });
  // WAL lets readers (the API, the CLI in another process) run while the scheduler writes.
  // power-loss-safe: a commit that returned is on stable storage, what a 202/250 promises. SQLite's
  // own way (synchronous=FULL) fsyncs the WAL inside COMMIT, stopping the event loop for the flush;
  // instead SQLite only writes the WAL (synchronous=NORMAL) and wal-sync.ts fdatasyncs it from Node's
  // thread pool before the commit's promise resolves. The group commit puts a whole batch of accepts
  // in one transaction, and commits that end during a flush share the next: one flush per batch or
  // fewer. process-crash-safe: the WAL is synced only at checkpoints, so a commit survives kill -9
  // (it is in the OS page cache) but not a power loss (docs/storage.md).
  // The same pragmas whichever driver opened the file.
  db.exec('PRAGMA journal_mode = WAL');
  // The store's flush needs the WAL (an in-memory database, or a file system without the shared
  // memory WAL needs, stays in another mode): otherwise SQLite syncs for itself.
  const mode = Object.values(db.prepare('PRAGMA journal_mode').all([])[0] ?? {})[0];
  const flushOwn = durability === 'power-loss-safe' && String(mode).toLowerCase() === 'wal';
  db.exec(durability === 'power-loss-safe' && !flushOwn ? 'PRAGMA synchronous = FULL' : 'PRAGMA synchronous = NORMAL');
  db.exec('PRAGMA busy_timeout = 10000');
  db.exec('PRAGMA foreign_keys = ON');
  // Purged and erased content must not linger in free pages of the file (docs/retention.md).
  db.exec('PRAGMA secure_delete = ON');
  const walSync = flushOwn ? createWalSync(() => datasyncFile(`${file}-wal`)) : undefined;
  const checkpoints =
    o.checkpoints === 'thread' && String(mode).toLowerCase() === 'wal'
      ? startCheckpointThread({ file, main: db, ...(o.log ? { log: o.log } : {}) })
      : undefined;
  const kysely = new SqliteDialect({ database: withStatementCache(db) });
  const hooks = withCommitHooks(walSync ? walSyncedDialect(kysely, walSync) : kysely);
  return {
    name: 'sqlite',
    kysely: hooks.dialect,
    onCommit: hooks.onCommit,
    blobType: 'blob',
    bigintType: 'integer',
    sqliteDriver: db.driver,
    ...(walSync ? { walSync } : {}),
    // The thread's connection closes first, so the main one is the last and SQLite removes the WAL.
    ...(checkpoints ? { checkpoints, close: () => checkpoints.close() } : {}),
  };
}

/**
 * Kysely prepares every query afresh; compiling the SQL again each time showed in delivery profiles.
 * The same few statements run thousands of times a second, so keep them prepared (bounded: batch
 * inserts of varying size make new texts). Safe because Kysely runs one statement at a time on
 * SQLite's single connection and reads every row at once (no streaming cursors).
 */
const STATEMENT_CACHE = 256;
function withStatementCache(db: SqliteConnection): SqliteDatabase {
  const cache = new Map<string, SqliteStatement>();
  return {
    close: () => db.close(),
    prepare(sql: string): SqliteStatement {
      let stmt = cache.get(sql);
      if (stmt) {
        // Most recently used last, so the first entry is the one to drop.
        cache.delete(sql);
      } else {
        stmt = db.prepare(sql);
        if (cache.size >= STATEMENT_CACHE) cache.delete(cache.keys().next().value!);
      }
      cache.set(sql, stmt);
      return stmt;
    },
  };
}

export interface PostgresPoolOptions {
  /** Hears connection errors pg reports as events (a server restart ending an idle connection). */
  onConnectionError?: (e: Error) => void;
  /** Longest a query waits for a connection before it fails (0: forever). */
  connectTimeoutMs?: number;
}

export function postgresDialect(url: string, poolSize: number, opts: PostgresPoolOptions = {}): DialectCapabilities {
  const pool = new pg.Pool({
    connectionString: url,
    max: poolSize,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 0,
    // int8 (counts, cursors, ms times) as numbers; every value we store fits in 2^53.
    types: {
      getTypeParser: ((oid: number, format?: string) =>
        oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
    },
  });
  // A restart, failover or pooler idle-kill ends connections, and pg reports it as an 'error' event:
  // on the pool for an idle client, on the client itself while it is checked out between queries.
  // An 'error' event nobody listens to ends the process, so both always have a listener; the query
  // that needed the connection fails on its own (connection-guard.ts) and the pool reconnects on demand.
  const onError = (e: Error) => opts.onConnectionError?.(e);
  pool.on('error', onError);
  pool.on('connect', (client) => client.on('error', onError));
  return { name: 'postgres', kysely: new PostgresDialect({ pool }), blobType: 'bytea', bigintType: 'bigint' };
}

export interface DurabilityReport {
  /** What the store was asked for (`store.durability`). */
  configured: Durability;
  /** True when an acknowledged commit survives a power loss, as far as the database reports. */
  powerLossSafe: boolean;
  /**
   * The setting as the database reports it (`synchronous=2`, `synchronous_commit=on`), and on SQLite
   * whether the store flushes the WAL itself (`synchronous=1, WAL flushed by the store per commit`).
   */
  setting: string;
}

/**
 * Reads back what the database actually does with a commit. SQLite: the `synchronous` pragma of our
 * own connection (2 = FULL, 3 = EXTRA are power-loss safe in WAL mode; 1 = NORMAL is when the store
 * flushes the WAL itself, `walFlushed`). PostgreSQL: `synchronous_commit`
 * as the server applies it to this connection (server, database, role or URL `options`); `off` answers
 * before the WAL is flushed, so a server crash loses the last commits (`local`, `on`, `remote_write`,
 * `remote_apply` all flush locally first).
 */
export async function readDurability(
  db: Kysely<unknown>,
  name: DialectName,
  configured: Durability,
  walFlushed = false,
): Promise<DurabilityReport> {
  if (name === 'sqlite') {
    const row = (await sql<{ synchronous: number }>`pragma synchronous`.execute(db)).rows[0];
    const level = Number(row?.synchronous);
    if (walFlushed && level === 1)
      return { configured, powerLossSafe: true, setting: `synchronous=1, WAL flushed by the store per commit` };
    return { configured, powerLossSafe: level >= 2, setting: `synchronous=${level}` };
  }
  const row = (await sql<{ synchronous_commit: string }>`show synchronous_commit`.execute(db)).rows[0];
  const value = String(row?.synchronous_commit);
  return { configured, powerLossSafe: value !== 'off', setting: `synchronous_commit=${value}` };
}
