import type { Kysely, Selectable, Updateable } from 'kysely';
import type { Database, TenantsTable } from '../schema.js';

export interface Tenant {
  id: string;
  name: string;
  sandbox: boolean;
  maxMessageBytes: number | null;
  ratePerMinute: number | null;
  createdAt: number;
  /** What a send whose expected DMARC alignment fails gets: a warning on its metadata, or refused. */
  alignmentPolicy: AlignmentPolicy;
  /** The region its data is pinned to (docs/residency.md); null: not pinned, any node serves it. */
  dataRegion: string | null;
}

export type AlignmentPolicy = 'warn' | 'reject';

const toTenant = (r: Selectable<TenantsTable>): Tenant => ({
  id: r.id,
  name: r.name,
  sandbox: r.sandbox === 1,
  maxMessageBytes: r.max_message_bytes,
  ratePerMinute: r.rate_per_minute,
  createdAt: r.created_at,
  alignmentPolicy: r.alignment_policy === 'reject' ? 'reject' : 'warn',
  dataRegion: r.data_region ?? null,
});

export function tenantsRepository(db: Kysely<Database>) {
  return {
    async insert(
      t: Omit<Tenant, 'alignmentPolicy' | 'dataRegion'> & { alignmentPolicy?: AlignmentPolicy; dataRegion?: string | null },
    ): Promise<void> {
      await db
        .insertInto('tenants')
        .values({
          id: t.id,
          name: t.name,
          sandbox: t.sandbox ? 1 : 0,
          max_message_bytes: t.maxMessageBytes,
          rate_per_minute: t.ratePerMinute,
          created_at: t.createdAt,
          alignment_policy: t.alignmentPolicy ?? 'warn',
          tls_policy: null,
          ...(t.dataRegion ? { data_region: t.dataRegion } : {}),
        })
        .execute();
    },
    async get(id: string): Promise<Tenant | undefined> {
      const r = await db.selectFrom('tenants').selectAll().where('id', '=', id).executeTakeFirst();
      return r && toTenant(r);
    },
    async list(): Promise<Tenant[]> {
      return (await db.selectFrom('tenants').selectAll().orderBy('id').execute()).map(toTenant);
    },
    /** The tenant's TLS policy document (JSON text, migration 006); null when never set. */
    async getTlsPolicy(id: string): Promise<string | null | undefined> {
      const r = await db.selectFrom('tenants').select('tls_policy').where('id', '=', id).executeTakeFirst();
      return r ? r.tls_policy : undefined;
    },
    async setTlsPolicy(id: string, json: string | null): Promise<void> {
      await db.updateTable('tenants').set({ tls_policy: json }).where('id', '=', id).execute();
    },
    async update(
      id: string,
      patch: Partial<Pick<Tenant, 'sandbox' | 'maxMessageBytes' | 'ratePerMinute' | 'name' | 'alignmentPolicy' | 'dataRegion'>>,
    ) {
      const values: Updateable<TenantsTable> = {};
      if (patch.name !== undefined) values.name = patch.name;
      if (patch.sandbox !== undefined) values.sandbox = patch.sandbox ? 1 : 0;
      if (patch.maxMessageBytes !== undefined) values.max_message_bytes = patch.maxMessageBytes;
      if (patch.ratePerMinute !== undefined) values.rate_per_minute = patch.ratePerMinute;
      if (patch.alignmentPolicy !== undefined) values.alignment_policy = patch.alignmentPolicy;
      if (patch.dataRegion !== undefined) values.data_region = patch.dataRegion;
      if (Object.keys(values).length) await db.updateTable('tenants').set(values).where('id', '=', id).execute();
    },
    /** The tenant's quotas, sending windows and recipient-risk settings (JSON, migration 021); undefined: none set. */
    async getSendingLimits(tenantId: string): Promise<string | undefined> {
      const r = await db.selectFrom('tenant_sending_limits').select('settings').where('tenant_id', '=', tenantId).executeTakeFirst();
      return r?.settings;
    },
    async setSendingLimits(tenantId: string, settings: string, now: number): Promise<void> {
      await db
        .insertInto('tenant_sending_limits')
        .values({ tenant_id: tenantId, settings, updated_at: now })
        .onConflict((oc) => oc.column('tenant_id').doUpdateSet({ settings, updated_at: now }))
        .execute();
    },
  };
}
