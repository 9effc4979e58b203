import type { Kysely } from 'kysely';
import type { Database, SuppressionsTable } from '../schema.js';

export interface SuppressionRow {
  id: string;
  tenantId: string;
  /** Lower-cased address (see core addressKey). */
  address: string;
  reason: string;
  source: string;
  createdAt: number;
}

const toRow = (r: SuppressionsTable): SuppressionRow => ({
  id: r.id,
  tenantId: r.tenant_id,
  address: r.address,
  reason: r.reason,
  source: r.source,
  createdAt: r.created_at,
});

export function suppressionsRepository(db: Kysely<Database>) {
  return {
    /** Adds, keeping the first entry when the address is already suppressed (the first reason explains it). */
    async add(row: SuppressionRow): Promise<boolean> {
      const r = await db
        .insertInto('suppressions')
        .values({
          id: row.id,
          tenant_id: row.tenantId,
          address: row.address,
          reason: row.reason,
          source: row.source,
          created_at: row.createdAt,
        })
        .onConflict((oc) => oc.columns(['tenant_id', 'address']).doNothing())
        .executeTakeFirst();
      return Number(r.numInsertedOrUpdatedRows ?? 0) > 0;
    },
    async find(tenantId: string, addresses: string[]): Promise<Map<string, SuppressionRow>> {
      const out = new Map<string, SuppressionRow>();
      for (let i = 0; i < addresses.length; i += 500) {
        const rows = await db
          .selectFrom('suppressions')
          .selectAll()
          .where('tenant_id', '=', tenantId)
          .where('address', 'in', addresses.slice(i, i + 500))
          .execute();
        for (const r of rows) out.set(r.address, toRow(r));
      }
      return out;
    },
    async list(tenantId: string, opts: { after?: string; limit: number }): Promise<SuppressionRow[]> {
      let q = db.selectFrom('suppressions').selectAll().where('tenant_id', '=', tenantId);
      if (opts.after) q = q.where('address', '>', opts.after);
      return (await q.orderBy('address').limit(opts.limit).execute()).map(toRow);
    },
    async remove(tenantId: string, address: string): Promise<boolean> {
      const r = await db.deleteFrom('suppressions').where('tenant_id', '=', tenantId).where('address', '=', address).executeTakeFirst();
      return Number(r.numDeletedRows) > 0;
    },
  };
}
