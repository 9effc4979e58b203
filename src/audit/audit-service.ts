import type { AuditEntryRow, Repositories, Store } from '../store/index.js';
import type { Actor } from './actor.js';
import { type AuditInput, type AuditLog, chainOf } from './audit-log.js';

/**
 * What services and edges call: `change` runs a change and records it in one transaction, `record`
 * appends an entry on its own (a read of message content has no change to ride with), `page` and
 * `entries` read a tenant's chain (GET /v1/audit, the exports).
 */
export interface AuditReadFilter {
  tenantId: string | null;
  afterSeq?: number;
  action?: string;
  resourceType?: string;
  resourceId?: string;
  actorId?: string;
  since?: number;
  until?: number;
  limit: number;
}

export function createAuditService(deps: { store: Pick<Store, 'audit' | 'transaction'>; log: AuditLog }) {
  const { store, log } = deps;
  return {
    log,
    /**
     * Runs `fn` and appends what `entry` makes of its result, in one transaction: the change and its
     * entry commit together or neither does. `entry` may answer undefined (nothing changed).
     */
    change<T>(fn: (tx: Repositories) => Promise<T>, entry: (result: T) => AuditInput | undefined): Promise<T> {
      return store.transaction(async (tx) => {
        const result = await fn(tx);
        const input = entry(result);
        if (input) await log.append(tx, input);
        return result;
      });
    },
    /** Appends one entry in a transaction of its own; the caller goes on only once it is stored. */
    record(input: AuditInput): Promise<AuditEntryRow> {
      return store.transaction((tx) => log.append(tx, input));
    },
    async page(f: AuditReadFilter): Promise<{ data: AuditEntryRow[]; nextCursor: string | null }> {
      const { tenantId, ...rest } = f;
      const rows = await store.audit.page({ ...rest, chain: chainOf(tenantId), limit: f.limit + 1 });
      const data = rows.slice(0, f.limit);
      return { data, nextCursor: rows.length > f.limit ? String(data[data.length - 1]!.seq) : null };
    },
    /** Every entry of a chain in seq order, a page at a time (exports). */
    async *entries(tenantId: string | null, pageSize = 1000): AsyncGenerator<AuditEntryRow> {
      let after = 0;
      for (;;) {
        const rows = await store.audit.page({ chain: chainOf(tenantId), afterSeq: after, limit: pageSize });
        yield* rows;
        if (rows.length < pageSize) return;
        after = rows[rows.length - 1]!.seq;
      }
    },
  };
}

export type AuditService = ReturnType<typeof createAuditService>;

/** The slice of the audit service other concerns take as a dependency. */
export type AuditRecorder = Pick<AuditService, 'change' | 'record' | 'log'>;

/**
 * A change and its audit entry in one transaction; where no recorder was wired (tests, tools that
 * audit nothing), the change alone, still in one transaction. What every audited settings change
 * calls, so none writes plainly when it should have recorded.
 */
export function auditedChange<T>(
  audit: AuditRecorder | undefined,
  store: Pick<Store, 'transaction'>,
  fn: (tx: Repositories) => Promise<T>,
  entry: (result: T) => AuditInput | undefined,
): Promise<T> {
  return audit ? audit.change(fn, entry) : store.transaction(fn);
}

/** Who, when a caller did not say: a change made by the platform on its own. */
export const unattributed: Actor = { kind: 'system', id: 'internal', tenantId: null };
