import { type Kysely, sql } from 'kysely';
import type { ReputationHoldsTable, ReputationKeysTable } from '../reputation-schema.js';
import type { Database } from '../schema.js';

/** A ledger key's row (migration 021): who sends to which provider, and how that is going. */
export interface ReputationKeyRow {
  key: string;
  tenantId: string;
  stream: string;
  domain: string;
  selector: string;
  pool: string;
  returnPath: string;
  provider: string;
  state: string;
  reason: string;
  since: number;
  deliveredTotal: number;
  updatedAt: number;
}

export interface CountIncrement {
  key: string;
  res: '5m' | '1h';
  bucket: number;
  metric: string;
  n: number;
}

/** A ledger rule's pause of an identity's stream at a provider (migration 027). */
export interface ReputationHoldRow {
  key: string;
  tenantId: string;
  stream: string;
  domain: string;
  pool: string;
  provider: string;
  rule: string;
  reason: string;
  since: number;
  until: number;
}

export interface ReputationKeyFilter {
  tenantId: string;
  provider?: string;
  domain?: string;
  stream?: string;
}

const toRow = (r: ReputationKeysTable): ReputationKeyRow => ({
  key: r.key,
  tenantId: r.tenant_id,
  stream: r.stream,
  domain: r.domain,
  selector: r.selector,
  pool: r.pool,
  returnPath: r.return_path,
  provider: r.provider,
  state: r.state,
  reason: r.reason,
  since: Number(r.since),
  deliveredTotal: Number(r.delivered_total),
  updatedAt: Number(r.updated_at),
});

const toHold = (r: ReputationHoldsTable): ReputationHoldRow => ({
  key: r.key,
  tenantId: r.tenant_id,
  stream: r.stream,
  domain: r.domain,
  pool: r.pool,
  provider: r.provider,
  rule: r.rule,
  reason: r.reason,
  since: Number(r.since),
  until: Number(r.until),
});

/** The reputation ledger's tables (src/reputation); every row is derived from the events spine. */
export function reputationRepository(db: Kysely<Database>) {
  return {
    async progress(name: string): Promise<number> {
      const r = await db.selectFrom('reputation_progress').select('cursor').where('name', '=', name).executeTakeFirst();
      return r ? Number(r.cursor) : 0;
    },
    async setProgress(name: string, cursor: number): Promise<void> {
      await db
        .insertInto('reputation_progress')
        .values({ name, cursor })
        .onConflict((oc) => oc.column('name').doUpdateSet({ cursor }))
        .execute();
    },
    async addCounts(rows: readonly CountIncrement[]): Promise<void> {
      for (const r of rows) {
        await db
          .insertInto('reputation_counts')
          .values(r)
          .onConflict((oc) => oc.columns(['key', 'res', 'bucket', 'metric']).doUpdateSet({ n: sql`reputation_counts.n + ${r.n}` }))
          .execute();
      }
    },
    /** Counts of the given keys from `since` (bucket start, inclusive) on, both resolutions. */
    async counts(keys: readonly string[], since: number): Promise<CountIncrement[]> {
      if (!keys.length) return [];
      const rows = await db.selectFrom('reputation_counts').selectAll().where('key', 'in', keys).where('bucket', '>=', since).execute();
      return rows.map((r) => ({ key: r.key, res: r.res as '5m' | '1h', bucket: Number(r.bucket), metric: r.metric, n: Number(r.n) }));
    },
    /** Drops buckets of one resolution older than `before` (they fell out of every window). */
    async pruneCounts(res: '5m' | '1h', before: number): Promise<void> {
      await db.deleteFrom('reputation_counts').where('res', '=', res).where('bucket', '<', before).execute();
    },
    async keys(keys: readonly string[]): Promise<ReputationKeyRow[]> {
      if (!keys.length) return [];
      return (await db.selectFrom('reputation_keys').selectAll().where('key', 'in', keys).execute()).map(toRow);
    },
    async putKey(r: ReputationKeyRow): Promise<void> {
      const values = {
        key: r.key,
        tenant_id: r.tenantId,
        stream: r.stream,
        domain: r.domain,
        selector: r.selector,
        pool: r.pool,
        return_path: r.returnPath,
        provider: r.provider,
        state: r.state,
        reason: r.reason,
        since: r.since,
        delivered_total: r.deliveredTotal,
        updated_at: r.updatedAt,
      };
      const { key: _k, ...rest } = values;
      await db
        .insertInto('reputation_keys')
        .values(values)
        .onConflict((oc) => oc.column('key').doUpdateSet(rest))
        .execute();
    },
    async listKeys(f: ReputationKeyFilter): Promise<ReputationKeyRow[]> {
      let q = db.selectFrom('reputation_keys').selectAll().where('tenant_id', '=', f.tenantId);
      if (f.provider) q = q.where('provider', '=', f.provider);
      if (f.domain) q = q.where('domain', '=', f.domain);
      if (f.stream) q = q.where('stream', '=', f.stream);
      return (await q.orderBy('key').limit(1000).execute()).map(toRow);
    },
    /** Keys of every tenant for one domain and provider (the delivery policy's view). */
    async listAll(f: { domain: string; provider: string }): Promise<ReputationKeyRow[]> {
      const rows = await db
        .selectFrom('reputation_keys')
        .selectAll()
        .where('domain', '=', f.domain)
        .where('provider', '=', f.provider)
        .limit(1000)
        .execute();
      return rows.map(toRow);
    },
    /** Keys of every tenant for one egress pool and provider (warmup graduation). */
    async listByPool(f: { pool: string; provider: string }): Promise<ReputationKeyRow[]> {
      const rows = await db
        .selectFrom('reputation_keys')
        .selectAll()
        .where('pool', '=', f.pool)
        .where('provider', '=', f.provider)
        .limit(1000)
        .execute();
      return rows.map(toRow);
    },
    async contexts(subjects: readonly string[]): Promise<Map<string, Record<string, string>>> {
      const out = new Map<string, Record<string, string>>();
      if (!subjects.length) return out;
      const rows = await db.selectFrom('reputation_context').selectAll().where('subject', 'in', subjects).execute();
      for (const r of rows) out.set(r.subject, JSON.parse(r.data) as Record<string, string>);
      return out;
    },
    /** Stores contexts, each replacing the subject's previous one: one statement per 400, not one per subject. */
    async putContexts(rows: readonly { subject: string; data: Record<string, string>; at: number }[]): Promise<void> {
      for (let i = 0; i < rows.length; i += 400) {
        await db
          .insertInto('reputation_context')
          .values(rows.slice(i, i + 400).map((r) => ({ subject: r.subject, data: JSON.stringify(r.data), at: r.at })))
          .onConflict((oc) => oc.column('subject').doUpdateSet((eb) => ({ data: eb.ref('excluded.data'), at: eb.ref('excluded.at') })))
          .execute();
      }
    },
    async putHold(h: ReputationHoldRow): Promise<void> {
      const values = {
        key: h.key,
        tenant_id: h.tenantId,
        stream: h.stream,
        domain: h.domain,
        pool: h.pool,
        provider: h.provider,
        rule: h.rule,
        reason: h.reason,
        since: h.since,
        until: h.until,
      };
      const { key: _k, ...rest } = values;
      await db
        .insertInto('reputation_holds')
        .values(values)
        .onConflict((oc) => oc.column('key').doUpdateSet(rest))
        .execute();
    },
    /** Holds of the given ledger keys, expired or not. */
    async holds(keys: readonly string[]): Promise<ReputationHoldRow[]> {
      if (!keys.length) return [];
      return (await db.selectFrom('reputation_holds').selectAll().where('key', 'in', keys).execute()).map(toHold);
    },
    /** Holds in force at `at` (delivery's view), at most 10,000. */
    async activeHolds(at: number): Promise<ReputationHoldRow[]> {
      return (await db.selectFrom('reputation_holds').selectAll().where('until', '>', at).orderBy('key').limit(10_000).execute()).map(
        toHold,
      );
    },
    /** Every ledger row in a stable order: what a rebuild is compared with. */
    async dump(): Promise<{ counts: unknown[]; keys: unknown[]; context: unknown[]; holds: unknown[] }> {
      const counts = await db.selectFrom('reputation_counts').selectAll().orderBy(['key', 'res', 'bucket', 'metric']).execute();
      const keys = await db.selectFrom('reputation_keys').selectAll().orderBy('key').execute();
      const context = await db.selectFrom('reputation_context').selectAll().orderBy('subject').execute();
      const holds = await db.selectFrom('reputation_holds').selectAll().orderBy('key').execute();
      // PostgreSQL answers bigint columns as strings; compare numbers.
      const numeric = new Set(['bucket', 'n', 'since', 'delivered_total', 'updated_at', 'at', 'until']);
      const norm = (rows: object[]) =>
        rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, numeric.has(k) ? Number(v) : v])));
      return { counts: norm(counts), keys: norm(keys), context: norm(context), holds: norm(holds) };
    },
    /** Empties the ledger (a rebuild replays the spine into it). */
    async clear(name: string): Promise<void> {
      await db.deleteFrom('reputation_counts').execute();
      await db.deleteFrom('reputation_keys').execute();
      await db.deleteFrom('reputation_context').execute();
      await db.deleteFrom('reputation_holds').execute();
      await db.deleteFrom('reputation_progress').where('name', '=', name).execute();
    },
  };
}
