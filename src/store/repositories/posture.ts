import type { Kysely } from 'kysely';
import { newId } from '../../core/index.js';
import type { Database, DnsSnapshotsTable } from '../schema.js';

/** Snapshots, the watch list and posture settings (migration 007). JSON columns are opaque here. */
export interface DnsSnapshotRow {
  id: string;
  tenantId: string;
  domain: string;
  takenAt: number;
  resolver: string;
  records: unknown;
  facts: unknown;
  findings: unknown;
}

const toSnapshot = (r: DnsSnapshotsTable): DnsSnapshotRow => ({
  id: r.id,
  tenantId: r.tenant_id,
  domain: r.domain,
  takenAt: Number(r.taken_at),
  resolver: r.resolver,
  records: JSON.parse(r.records),
  facts: JSON.parse(r.facts),
  findings: JSON.parse(r.findings),
});

export function postureRepository(db: Kysely<Database>) {
  return {
    async insertSnapshot(s: Omit<DnsSnapshotRow, 'id'>): Promise<DnsSnapshotRow> {
      const row = { ...s, id: newId('snp', s.takenAt) };
      await db
        .insertInto('dns_snapshots')
        .values({
          id: row.id,
          tenant_id: s.tenantId,
          domain: s.domain,
          taken_at: s.takenAt,
          resolver: s.resolver,
          records: JSON.stringify(s.records),
          facts: JSON.stringify(s.facts),
          findings: JSON.stringify(s.findings),
        })
        .execute();
      return row;
    },
    async latestSnapshot(tenantId: string, domain: string): Promise<DnsSnapshotRow | undefined> {
      const r = await db
        .selectFrom('dns_snapshots')
        .selectAll()
        .where('tenant_id', '=', tenantId)
        .where('domain', '=', domain)
        .orderBy('taken_at', 'desc')
        .orderBy('id', 'desc')
        .limit(1)
        .executeTakeFirst();
      return r && toSnapshot(r);
    },
    /** Oldest first, at most `limit` of the newest. */
    async listSnapshots(tenantId: string, domain: string, limit = 100): Promise<DnsSnapshotRow[]> {
      const rows = await db
        .selectFrom('dns_snapshots')
        .selectAll()
        .where('tenant_id', '=', tenantId)
        .where('domain', '=', domain)
        .orderBy('taken_at', 'desc')
        .orderBy('id', 'desc')
        .limit(limit)
        .execute();
      return rows.map(toSnapshot).reverse();
    },
    async addWatch(tenantId: string, domain: string, now: number): Promise<boolean> {
      const existing = await db
        .selectFrom('dns_watch')
        .select('domain')
        .where('tenant_id', '=', tenantId)
        .where('domain', '=', domain)
        .executeTakeFirst();
      if (existing) return false;
      await db.insertInto('dns_watch').values({ tenant_id: tenantId, domain, created_at: now }).execute();
      return true;
    },
    async removeWatch(tenantId: string, domain: string): Promise<boolean> {
      const r = await db.deleteFrom('dns_watch').where('tenant_id', '=', tenantId).where('domain', '=', domain).executeTakeFirst();
      return Number(r.numDeletedRows) > 0;
    },
    /** The watch list of one tenant, or of every tenant when none is given. */
    async listWatch(tenantId?: string): Promise<{ tenantId: string; domain: string; createdAt: number }[]> {
      let q = db.selectFrom('dns_watch').selectAll();
      if (tenantId) q = q.where('tenant_id', '=', tenantId);
      const rows = await q.orderBy('tenant_id').orderBy('domain').execute();
      return rows.map((r) => ({ tenantId: r.tenant_id, domain: r.domain, createdAt: Number(r.created_at) }));
    },
    async approvedMx(tenantId: string): Promise<string[] | undefined> {
      const r = await db.selectFrom('posture_settings').select('approved_mx').where('tenant_id', '=', tenantId).executeTakeFirst();
      return r ? (JSON.parse(r.approved_mx) as string[]) : undefined;
    },
    async setApprovedMx(tenantId: string, patterns: string[], now: number): Promise<void> {
      const value = JSON.stringify(patterns);
      const r = await db
        .updateTable('posture_settings')
        .set({ approved_mx: value, updated_at: now })
        .where('tenant_id', '=', tenantId)
        .executeTakeFirst();
      if (Number(r.numUpdatedRows) === 0)
        await db.insertInto('posture_settings').values({ tenant_id: tenantId, approved_mx: value, updated_at: now }).execute();
    },
  };
}
