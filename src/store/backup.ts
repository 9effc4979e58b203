import { existsSync } from 'node:fs';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { PostwardenError } from '../core/index.js';

/**
 * An online copy of the SQLite store through SQLite's backup API (better-sqlite3's `backup`): it
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

export async function backupSqlite(opts: { dataDir: string; destination: string }): Promise<SqliteBackupResult> {
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
  const db = new SQLite(source, { readonly: true, fileMustExist: true });
  let pages = 0;
  try {
    await db.backup(opts.destination, {
      progress: ({ totalPages }) => {
        pages = totalPages;
        return 256;
      },
    });
  } finally {
    db.close();
  }
  // The copy inherits WAL mode from the store; a rollback journal makes it one file to move around.
  const copy = new SQLite(opts.destination, { fileMustExist: true });
  try {
    copy.pragma('journal_mode = DELETE');
    const check = copy.pragma('integrity_check', { simple: true });
    if (check !== 'ok')
      throw new PostwardenError('INTERNAL', `the backup ${opts.destination} failed its integrity check: ${String(check)}`);
    const counts: Record<string, number> = {};
    for (const table of ['tenants', 'messages', 'recipients', 'events']) {
      const exists = copy.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(table);
      if (exists) counts[table] = (copy.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
    }
    const pageSize = copy.pragma('page_size', { simple: true }) as number;
    const pageCount = copy.pragma('page_count', { simple: true }) as number;
    return { source, destination: opts.destination, pages: pages || pageCount, bytes: pageSize * pageCount, counts };
  } finally {
    copy.close();
  }
}
