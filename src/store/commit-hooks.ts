import type { DatabaseConnection, Dialect, Driver } from 'kysely';

/**
 * Work to run the moment the transaction in progress has committed, before SQLite's one connection
 * goes to anyone else (the event tail's publish, repositories/events.ts): once released, a reader
 * could select what the transaction wrote (by the end of the store's WAL flush a third had). Hooks
 * registered during a transaction are dropped if it rolls back (or back to a savepoint) or its
 * COMMIT fails. SQLite only: its driver runs one transaction at a time behind a mutex, so "the
 * transaction in progress" is the one that registered them.
 */
export interface CommitHooks {
  dialect: Dialect;
  /** Runs `fn` right after the current transaction commits; never if it does not. */
  onCommit(fn: () => void): void;
}

export function withCommitHooks(dialect: Dialect): CommitHooks {
  let hooks: Array<() => void> = [];
  const drop = () => {
    hooks = [];
  };
  const driver = (inner: Driver): Driver => ({
    init: () => inner.init(),
    acquireConnection: () => inner.acquireConnection(),
    async beginTransaction(c: DatabaseConnection, settings) {
      drop();
      await inner.beginTransaction(c, settings);
    },
    async commitTransaction(c: DatabaseConnection) {
      try {
        await inner.commitTransaction(c);
      } catch (e) {
        drop();
        throw e;
      }
      const run = hooks;
      drop();
      for (const f of run) {
        // The transaction has committed and must resolve as committed (a 202 or 250 hangs on it):
        // a hook is work that may be skipped (a publish not made leaves the events to the readers).
        try {
          f();
        } catch {}
      }
    },
    async rollbackTransaction(c: DatabaseConnection) {
      drop();
      await inner.rollbackTransaction(c);
    },
    ...(inner.savepoint ? { savepoint: (c, name, compile) => inner.savepoint!(c, name, compile) } : {}),
    ...(inner.rollbackToSavepoint
      ? {
          rollbackToSavepoint: (c, name, compile) => {
            drop();
            return inner.rollbackToSavepoint!(c, name, compile);
          },
        }
      : {}),
    ...(inner.releaseSavepoint ? { releaseSavepoint: (c, name, compile) => inner.releaseSavepoint!(c, name, compile) } : {}),
    releaseConnection: (c: DatabaseConnection) => inner.releaseConnection(c),
    destroy: () => inner.destroy(),
  });
  return {
    onCommit: (fn) => void hooks.push(fn),
    dialect: {
      createAdapter: () => dialect.createAdapter(),
      createQueryCompiler: () => dialect.createQueryCompiler(),
      createIntrospector: (db) => dialect.createIntrospector(db),
      createDriver: () => driver(dialect.createDriver()),
    },
  };
}
