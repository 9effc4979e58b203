import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { PostwardenError } from '../core/index.js';
import { openSqlite, type SqliteConnection, type SqliteDriverSetting } from './sqlite-driver.js';

/**
 * An online copy of the SQLite store through SQLite's backup API (`backup` of better-sqlite3 or node:sqlite): it
 * copies pages while the server keeps writing (WAL), restarting when a page it copied changes, and
 * yields between steps so a running server is not starved. The result is one self-contained file
 * (no -wal), checked with `PRAGMA integrity_check` before it is reported.
 */
export interface SqliteBackupResult {
  source: string;
  destination: string;
  pages: number;
  bytes: number;
  /** Rows of a few tables, so the operator can see the copy holds what they expect. */
  counts: Record<string, number>;
}

export async function backupSqlite(opts: {
  dataDir: string;
  destination: string;
  /** `store.sqliteDriver`. */
  driver?: SqliteDriverSetting;
}): Promise<SqliteBackupResult> {
  const source = join(opts.dataDir, 'postwarden.db');
  if (!existsSync(source)) {
    throw new PostwardenError('NOT_FOUND', `no SQLite store at ${source}`, {
      errors: [{ path: '/dataDir', message: `${source} does not exist` }],
    });
  }
  if (existsSync(opts.destination)) {
    throw new PostwardenError('CONFLICT', `${opts.destination} already exists; a backup never overwrites a file`, {
      errors: [{ path: '/destination', message: 'already exists' }],
    });
  }
  const db = openSqlite(source, { driver: opts.driver, readonly: true });
  let pages = 0;
  try {
    pages = await db.backup(opts.destination);
  } finally {
    db.close();
  }
  // The copy inherits WAL mode from the store; a rollback journal makes it one file to move around.
  const copy = openSqlite(opts.destination, { driver: opts.driver });
  try {
    copy.exec('PRAGMA journal_mode = DELETE');
    const check = firstValue(copy, 'PRAGMA integrity_check');
    if (check !== 'ok')
      throw new PostwardenError('INTERNAL', `the backup ${opts.destination} failed its integrity check: ${String(check)}`);
    const counts: Record<string, number> = {};
    for (const table of ['tenants', 'messages', 'recipients', 'events']) {
      const exists = firstValue(copy, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", [table]);
      if (exists !== undefined) counts[table] = Number(firstValue(copy, `SELECT count(*) AS n FROM ${table}`));
    }
    const pageSize = Number(firstValue(copy, 'PRAGMA page_size'));
    const pageCount = Number(firstValue(copy, 'PRAGMA page_count'));
    return { source, destination: opts.destination, pages: pages || pageCount, bytes: pageSize * pageCount, counts };
  } finally {
    copy.close();
  }
}

/** The first column of the first row, or undefined when there is none. */
function firstValue(db: SqliteConnection, sql: string, params: unknown[] = []): unknown {
  const row = db.prepare(sql).all(params)[0] as Record<string, unknown> | undefined;
  return row === undefined ? undefined : Object.values(row)[0];
}
