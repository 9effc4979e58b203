import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { Kysely, Migrator, sql } from 'kysely';
import pg from 'pg';
import { postgresDialect, sqliteDialect } from '../../src/store/dialect.js';
import { createStore, type DialectName, type Store } from '../../src/store/index.js';
import { migrationProvider } from '../../src/store/migrations/index.js';

/**
 * Every store test runs on SQLite always and on PostgreSQL when POSTWARDEN_TEST_DATABASE_URL is set
 * (CI sets it). Each PostgreSQL store gets a schema of its own so concurrent test files never meet.
 */
export const postgresUrl = process.env.POSTWARDEN_TEST_DATABASE_URL ?? '';

export const dialects: DialectName[] = postgresUrl ? ['sqlite', 'postgres'] : ['sqlite'];

let announced = false;
export function announcePostgresSkip(): void {
  if (postgresUrl || announced) return;
  announced = true;
  console.log('# PostgreSQL tests skipped: set POSTWARDEN_TEST_DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/test) to run them');
}

/**
 * A fresh, empty PostgreSQL schema on `baseUrl` (the test database by default) and a URL whose
 * connections use it; `drop` removes it. Tests and benchmarks share it.
 */
export async function createPostgresSchema(baseUrl = postgresUrl, prefix = 'pw_test'): Promise<{ url: string; drop(): Promise<void> }> {
  const schema = `${prefix}_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  await admin.query(`create schema ${schema}`);
  await admin.end();
  const u = new URL(baseUrl);
  u.searchParams.set('options', `-c search_path=${schema}`);
  return {
    url: u.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: baseUrl });
      await c.connect();
      await c.query(`drop schema if exists ${schema} cascade`);
      await c.end();
    },
  };
}

/** A database URL for a fresh PostgreSQL schema, dropped after the test (register users' own teardown later). */
export async function freshPostgresUrl(t: TestContext): Promise<string> {
  const { url, drop } = await createPostgresSchema();
  t.after(drop);
  return url;
}

export function tempDir(t: TestContext, prefix = 'pw-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  // After-hooks run in the order they were added, so this one usually runs before the store or
  // platform using the directory is closed; a file it creates meanwhile (a WAL reopened by the
  // checkpoint thread) made the removal fail with ENOTEMPTY. Node retries that error.
  t.after(() => rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 }));
  return dir;
}

/** Opens a fresh store of the given dialect for one test; closes it (then drops its schema) after. */
export async function openStore(t: TestContext, dialect: DialectName): Promise<Store> {
  if (dialect === 'postgres') {
    const schema = await createPostgresSchema();
    const store = await createStore({ url: schema.url, poolSize: 12 });
    // node:test runs after-hooks in the order they were added: close before dropping.
    t.after(async () => {
      await store.close();
      await schema.drop();
    });
    return store;
  }
  const store = await createStore({ sqliteFile: join(tempDir(t), 'test.db') });
  t.after(() => store.close());
  return store;
}

/** Why PostgreSQL variants are skipped, shown on each skipped test so they never silently disappear. */
export const postgresSkipReason = 'PostgreSQL: set POSTWARDEN_TEST_DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/test) to run';

/**
 * Registers `fn` once per dialect as a subtest named after the dialect; without the PostgreSQL URL
 * the `[postgres]` variant is registered as skipped with the reason, so the report still lists it.
 */
export function forEachDialect(
  name: string,
  fn: (t: TestContext, dialect: DialectName) => Promise<void>,
  test: (name: string, options: { skip?: string | false }, fn: (t: TestContext) => Promise<void>) => unknown,
): void {
  announcePostgresSkip();
  for (const d of ['sqlite', 'postgres'] as const) {
    test(`${name} [${d}]`, { skip: d === 'postgres' && !postgresUrl ? postgresSkipReason : false }, (t) => fn(t, d));
  }
}

/**
 * An upgrade test's starting point: a database migrated up to `migration` only, open as `db` for
 * the old rows the test writes; `open()` closes it and opens the store on it, which runs the
 * migrations after (the store is closed and the schema dropped after the test).
 */
export async function databaseAt(
  t: TestContext,
  dialect: DialectName,
  migration: string,
): Promise<{ db: Kysely<any>; open(): Promise<Store> }> {
  const schema = dialect === 'postgres' ? await createPostgresSchema() : undefined;
  const file = join(tempDir(t), 'old.db');
  const caps = schema ? postgresDialect(schema.url, 2) : sqliteDialect(file);
  const db = new Kysely<any>({ dialect: caps.kysely });
  // As createStore does: pin Kysely's migration tables to this schema (other test schemas have theirs).
  const migrationTableSchema = schema ? (await sql<{ s: string }>`select current_schema() as s`.execute(db)).rows[0]?.s : undefined;
  const migrator = new Migrator({ db, provider: migrationProvider(caps), ...(migrationTableSchema ? { migrationTableSchema } : {}) });
  const { error } = await migrator.migrateTo(migration);
  if (error) throw error;
  return {
    db,
    async open() {
      await db.destroy();
      const store = await createStore(schema ? { url: schema.url, poolSize: 2 } : { sqliteFile: file });
      t.after(async () => {
        await store.close();
        await schema?.drop();
      });
      return store;
    },
  };
}
