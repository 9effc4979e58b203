import type { DatabaseConnection, Dialect, Driver, QueryResult } from 'kysely';
import { PostwardenError } from '../core/index.js';

/**
 * A PostgreSQL server restarts, fails over, or has a pooler kill idle connections: every query in
 * flight then fails, and new connections are refused until it is back. Those failures say nothing
 * about the request, so the store turns each into one catalogue error, STORE_UNAVAILABLE (HTTP 503
 * with Retry-After, SMTP 451 4.3.0), whichever repository ran into it. Every other database error
 * (a constraint, a syntax error: our bug) passes through unchanged.
 *
 * The guard wraps Kysely's driver, the one place every query and transaction passes through. pg's
 * pool drops a broken client when it is released, and opens new connections on demand, so nothing
 * here reconnects: the first query after the server is back simply works.
 */

/** Seconds a client is told to wait before retrying; a restart or failover usually takes a few. */
export const STORE_RETRY_AFTER_SECONDS = 5;

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * SQLSTATE (PostgreSQL Appendix A): class 08 connection exception; 57P01 admin_shutdown (what
 * pg_terminate_backend and a fast shutdown send), 57P02 crash_shutdown, 57P03 cannot_connect_now
 * (starting up or in recovery); 53300 too_many_connections.
 */
const SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300']);

/** pg's own words for a connection that is gone or never came (it gives these errors no code). */
const PG_MESSAGES =
  /Connection terminated|Client has encountered a connection error|not queryable|timeout exceeded when trying to connect|Connection terminated due to connection timeout/i;

/** True when `e` means "the database could not be reached", not "the database refused this". */
export function isConnectionError(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string' && (NETWORK_CODES.has(code) || SQLSTATES.has(code) || /^08...$/.test(code))) return true;
  return PG_MESSAGES.test(e.message);
}

function unavailable(cause: unknown): PostwardenError {
  return new PostwardenError(
    'STORE_UNAVAILABLE',
    'The database cannot be reached right now; this request was not completed. Retry shortly.',
    { retryAfter: STORE_RETRY_AFTER_SECONDS },
    { cause },
  );
}

async function guarded<T>(run: () => Promise<T>, onLost?: (e: unknown) => void): Promise<T> {
  try {
    return await run();
  } catch (e) {
    if (!isConnectionError(e)) throw e;
    onLost?.(e);
    throw unavailable(e);
  }
}

/** The dialect with its driver wrapped; `onLost` hears every connection failure (for a log line). */
export function guardDialect(dialect: Dialect, onLost?: (e: unknown) => void): Dialect {
  return {
    createAdapter: () => dialect.createAdapter(),
    createQueryCompiler: () => dialect.createQueryCompiler(),
    createIntrospector: (db) => dialect.createIntrospector(db),
    createDriver: () => guardDriver(dialect.createDriver(), onLost),
  };
}

function guardDriver(inner: Driver, onLost?: (e: unknown) => void): Driver {
  // Kysely hands our connection back to release it; the inner driver needs its own.
  const originals = new WeakMap<DatabaseConnection, DatabaseConnection>();
  const original = (c: DatabaseConnection) => originals.get(c) ?? c;
  const g = <T>(run: () => Promise<T>) => guarded(run, onLost);
  return {
    init: () => g(() => inner.init()),
    async acquireConnection() {
      const conn = await g(() => inner.acquireConnection());
      const wrapped: DatabaseConnection = {
        executeQuery: <R>(q: Parameters<DatabaseConnection['executeQuery']>[0]): Promise<QueryResult<R>> =>
          g(() => conn.executeQuery<R>(q)),
        streamQuery: (q, chunkSize) => conn.streamQuery(q, chunkSize),
      };
      originals.set(wrapped, conn);
      return wrapped;
    },
    beginTransaction: (c, settings) => g(() => inner.beginTransaction(original(c), settings)),
    commitTransaction: (c) => g(() => inner.commitTransaction(original(c))),
    rollbackTransaction: (c) => g(() => inner.rollbackTransaction(original(c))),
    ...(inner.savepoint ? { savepoint: (c, name, compile) => g(() => inner.savepoint!(original(c), name, compile)) } : {}),
    ...(inner.rollbackToSavepoint
      ? { rollbackToSavepoint: (c, name, compile) => g(() => inner.rollbackToSavepoint!(original(c), name, compile)) }
      : {}),
    ...(inner.releaseSavepoint
      ? { releaseSavepoint: (c, name, compile) => g(() => inner.releaseSavepoint!(original(c), name, compile)) }
      : {}),
    releaseConnection: (c) => inner.releaseConnection(original(c)),
    destroy: () => inner.destroy(),
  };
}
