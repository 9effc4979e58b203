import type { Kysely } from 'kysely';
import type { ApiKeysTable, Database } from '../schema.js';

export interface ApiKeyRow {
  id: string;
  tenantId: string;
  name: string;
  secretHash: string;
  hint: string;
  scopes: string[];
  createdAt: number;
  revokedAt: number | null;
}

const toKey = (r: ApiKeysTable): ApiKeyRow => ({
  id: r.id,
  tenantId: r.tenant_id,
  name: r.name,
  secretHash: r.secret_hash,
  hint: r.hint,
  scopes: r.scopes ? r.scopes.split(',') : [],
  createdAt: r.created_at,
  revokedAt: r.revoked_at,
});

export function apiKeysRepository(db: Kysely<Database>) {
  return {
    async insert(k: ApiKeyRow): Promise<void> {
      await db
        .insertInto('api_keys')
        .values({
          id: k.id,
          tenant_id: k.tenantId,
          name: k.name,
          secret_hash: k.secretHash,
          hint: k.hint,
          scopes: k.scopes.join(','),
          created_at: k.createdAt,
          revoked_at: k.revokedAt,
        })
        .execute();
    },
    async findByHash(secretHash: string): Promise<ApiKeyRow | undefined> {
      const r = await db.selectFrom('api_keys').selectAll().where('secret_hash', '=', secretHash).executeTakeFirst();
      return r && toKey(r);
    },
    async list(tenantId: string): Promise<ApiKeyRow[]> {
      const rows = await db.selectFrom('api_keys').selectAll().where('tenant_id', '=', tenantId).orderBy('id').execute();
      return rows.map(toKey);
    },
    async revoke(tenantId: string, id: string, at: number): Promise<boolean> {
      const r = await db
        .updateTable('api_keys')
        .set({ revoked_at: at })
        .where('id', '=', id)
        .where('tenant_id', '=', tenantId)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      return Number(r.numUpdatedRows) > 0;
    },
  };
}
