import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';
import type { SqliteDatabase, SqliteStatement } from 'kysely';
import { PostwardenError } from '../core/index.js';

/**
 * Opens the SQLite file with one of two drivers and presents both the same way: what Kysely's
 * SqliteDialect needs (`prepare` → statement with `reader`, `all`, `run`, `iterate`; `close`), plus
 * `exec` for pragmas and `backup` for online copies.
 *
 * - `better-sqlite3` (12.x, pinned): verified on Node 20 and 22. On Node 24 it aborts every process
 *   that opened a database at exit (`Assertion failed: (env) != nullptr` in
 *   `node::RemoveEnvironmentCleanupHook`, a teardown bug fixed only in 13.x, which needs Node ≥ 22).
 * - `node:sqlite` (DatabaseSync): built into Node; what we use needs Node ≥ 22.16 (`columns()`,
 *   `backup()`). `auto` picks it on Node ≥ 23 so those never load better-sqlite3's addon.
 *
 * Both are loaded lazily through `require`, so a process only loads the driver it uses.
 */
export type SqliteDriverName = 'better-sqlite3' | 'node:sqlite';
export type SqliteDriverSetting = 'auto' | SqliteDriverName;

export interface SqliteConnection extends SqliteDatabase {
  readonly driver: SqliteDriverName;
  prepare(sql: string): SqliteStatement;
  /** Runs SQL without results (pragmas, DDL). */
  exec(sql: string): void;
  /** Online copy to `destination` through SQLite's backup API; resolves with the pages copied. */
  backup(destination: string): Promise<number>;
  close(): void;
}

export interface OpenSqliteOptions {
  driver?: SqliteDriverSetting;
  readonly?: boolean;
}

const require = createRequire(import.meta.url);

/** `auto`: better-sqlite3 where it is verified (Node 20 and 22), node:sqlite from Node 23 on. */
export function chooseSqliteDriver(setting: SqliteDriverSetting = 'auto', nodeVersion = process.versions.node): SqliteDriverName {
  if (setting !== 'auto') return setting;
  return Number(nodeVersion.split('.')[0]) <= 22 ? 'better-sqlite3' : 'node:sqlite';
}

/** Why node:sqlite cannot be used on this Node, or undefined when it can. */
export function nodeSqliteUnavailable(): string | undefined {
  const mod = loadNodeSqlite();
  if (!mod) return `node:sqlite is not built into Node ${process.versions.node} (it needs Node ≥ 22.16)`;
  if (typeof mod.StatementSync?.prototype.columns !== 'function' || typeof mod.backup !== 'function')
    return `node:sqlite of Node ${process.versions.node} lacks columns() or backup() (it needs Node ≥ 22.16)`;
  return undefined;
}

export function openSqlite(file: string, opts: OpenSqliteOptions = {}): SqliteConnection {
  const driver = chooseSqliteDriver(opts.driver);
  return driver === 'node:sqlite' ? openNodeSqlite(file, opts.readonly ?? false) : openBetterSqlite3(file, opts.readonly ?? false);
}

function openBetterSqlite3(file: string, readonly: boolean): SqliteConnection {
  const Database = require('better-sqlite3') as typeof BetterSqlite3;
  const db = new Database(file, { readonly, fileMustExist: readonly });
  return {
    driver: 'better-sqlite3',
    // better-sqlite3's statements already are what Kysely expects (arrays bind positionally).
    prepare: (sql) => db.prepare(sql) as unknown as SqliteStatement,
    exec: (sql) => {
      db.exec(sql);
    },
    async backup(destination) {
      let pages = 0;
      await db.backup(destination, {
        progress: ({ totalPages }) => {
          pages = totalPages;
          // Pages per step; the driver yields to the event loop between steps.
          return BACKUP_PAGES_PER_STEP;
        },
      });
      return pages;
    },
    close: () => {
      db.close();
    },
  };
}

const BACKUP_PAGES_PER_STEP = 256;

/** The part of node:sqlite we use (our @types/node is Node 20's, which has no node:sqlite). */
interface NodeSqliteModule {
  DatabaseSync: new (path: string, options?: { readOnly?: boolean }) => NodeDatabaseSync;
  StatementSync?: { prototype: { columns?: unknown } };
  backup(source: NodeDatabaseSync, path: string, options?: { rate?: number }): Promise<number>;
}
interface NodeDatabaseSync {
  prepare(sql: string): NodeStatementSync;
  exec(sql: string): void;
  close(): void;
}
interface NodeStatementSync {
  all(...params: unknown[]): Record<string, unknown>[];
  run(...params: unknown[]): { changes: number | bigint; lastInsertRowid: number | bigint };
  iterate(...params: unknown[]): IterableIterator<Record<string, unknown>>;
  columns?(): unknown[];
}

function loadNodeSqlite(): NodeSqliteModule | undefined {
  try {
    return require('node:sqlite') as NodeSqliteModule;
  } catch {
    return undefined;
  }
}

function openNodeSqlite(file: string, readonly: boolean): SqliteConnection {
  const why = nodeSqliteUnavailable();
  const mod = loadNodeSqlite();
  if (why || !mod) {
    throw new PostwardenError('CONFIG_INVALID', `store.sqliteDriver is node:sqlite, but ${why}: use better-sqlite3 or auto`, {
      errors: [{ path: '/store/sqliteDriver', message: why ?? 'node:sqlite unavailable' }],
    });
  }
  const db = new mod.DatabaseSync(file, { readOnly: readonly });
  return {
    driver: 'node:sqlite',
    prepare: (sql) => nodeStatement(db.prepare(sql)),
    exec: (sql) => db.exec(sql),
    backup: (destination) => mod.backup(db, destination, { rate: BACKUP_PAGES_PER_STEP }),
    close: () => db.close(),
  };
}

/**
 * node:sqlite binds parameters as arguments (better-sqlite3 and Kysely pass an array), returns rows
 * as null-prototype objects and BLOBs as Uint8Array. The repositories were written against
 * better-sqlite3, so rows become plain objects and BLOBs Buffers (a view, not a copy). Integers come
 * back as numbers in both; node:sqlite throws where a value exceeds 2^53 (better-sqlite3 would round),
 * and every integer we store fits.
 */
function nodeStatement(stmt: NodeStatementSync): SqliteStatement {
  if (typeof stmt.columns !== 'function')
    throw new Error(`node:sqlite of Node ${process.versions.node} lacks columns(); it needs Node ≥ 22.16`);
  // A statement that yields columns is a reader (SELECT, RETURNING, most pragmas), as in better-sqlite3.
  const reader = stmt.columns().length > 0;
  return {
    reader,
    all: (params) => stmt.all(...params).map(plainRow),
    run: (params) => {
      const { changes, lastInsertRowid } = stmt.run(...params);
      return { changes, lastInsertRowid };
    },
    *iterate(params) {
      for (const row of stmt.iterate(...params)) yield plainRow(row);
    },
  };
}

function plainRow(row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key in row) {
    const v = row[key];
    out[key] = v instanceof Uint8Array && !Buffer.isBuffer(v) ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : v;
  }
  return out;
}
