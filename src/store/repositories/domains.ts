import type { Kysely } from 'kysely';
import type { Database, DomainsTable } from '../schema.js';

export interface DomainRow {
  id: string;
  tenantId: string;
  name: string;
  createdAt: number;
}

const toDomain = (r: DomainsTable): DomainRow => ({ id: r.id, tenantId: r.tenant_id, name: r.name, createdAt: r.created_at });

export function domainsRepository(db: Kysely<Database>) {
  return {
    async insert(d: DomainRow): Promise<void> {
      await db.insertInto('domains').values({ id: d.id, tenant_id: d.tenantId, name: d.name, created_at: d.createdAt }).execute();
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
    async delete(tenantId: string, id: string): Promise<boolean> {
      const r = await db.deleteFrom('domains').where('id', '=', id).where('tenant_id', '=', tenantId).executeTakeFirst();
      return Number(r.numDeletedRows) > 0;
    },
  };
}
