import type { Kysely } from 'kysely';
import type { Database, DomainsTable } from '../schema.js';

export interface DomainRow {
  id: string;
  tenantId: string;
  name: string;
  createdAt: number;
  /** Streams that may send as this domain; null: every stream. */
  streams?: string[] | null;
  /** The last DNS verification report (identity's shape, stored as JSON). */
  verification?: unknown;
  checkedAt?: number | null;
  /** When every required record last verified. */
  verifiedAt?: number | null;
}

const toDomain = (r: DomainsTable): DomainRow => ({
  id: r.id,
  tenantId: r.tenant_id,
  name: r.name,
  createdAt: r.created_at,
  streams: r.streams ? (JSON.parse(r.streams) as string[]) : null,
  verification: r.verification ? (JSON.parse(r.verification) as unknown) : null,
  checkedAt: r.checked_at ?? null,
  verifiedAt: r.verified_at ?? null,
});

export function domainsRepository(db: Kysely<Database>) {
  return {
    async insert(d: DomainRow): Promise<void> {
      await db
        .insertInto('domains')
        .values({
          id: d.id,
          tenant_id: d.tenantId,
          name: d.name,
          created_at: d.createdAt,
          streams: d.streams?.length ? JSON.stringify(d.streams) : null,
        })
        .execute();
    },
    async get(id: string): Promise<DomainRow | undefined> {
      const r = await db.selectFrom('domains').selectAll().where('id', '=', id).executeTakeFirst();
      return r && toDomain(r);
    },
    async findByName(name: string): Promise<DomainRow | undefined> {
      const r = await db.selectFrom('domains').selectAll().where('name', '=', name).executeTakeFirst();
      return r && toDomain(r);
    },
    async findByNames(names: string[]): Promise<DomainRow[]> {
      if (!names.length) return [];
      const rows = await db
        .selectFrom('domains')
        .selectAll()
        .where('name', 'in', [...new Set(names)])
        .execute();
      return rows.map(toDomain);
    },
    async list(tenantId: string): Promise<DomainRow[]> {
      const rows = await db.selectFrom('domains').selectAll().where('tenant_id', '=', tenantId).orderBy('name').execute();
      return rows.map(toDomain);
    },
    /** Every domain of every tenant, for the verification and rotation schedule. */
    async listAll(): Promise<DomainRow[]> {
      return (await db.selectFrom('domains').selectAll().orderBy('id').execute()).map(toDomain);
    },
    async setStreams(id: string, streams: string[] | null): Promise<void> {
      await db
        .updateTable('domains')
        .set({ streams: streams?.length ? JSON.stringify(streams) : null })
        .where('id', '=', id)
        .execute();
    },
    /** Records a verification run; verifiedAt stays as it was when `verifiedAt` is undefined. */
    async setVerification(id: string, report: unknown, checkedAt: number, verifiedAt: number | null): Promise<void> {
      await db
        .updateTable('domains')
        .set({ verification: JSON.stringify(report), checked_at: checkedAt, verified_at: verifiedAt })
        .where('id', '=', id)
        .execute();
    },
    async delete(tenantId: string, id: string): Promise<boolean> {
      const r = await db.deleteFrom('domains').where('id', '=', id).where('tenant_id', '=', tenantId).executeTakeFirst();
      return Number(r.numDeletedRows) > 0;
    },
  };
}
