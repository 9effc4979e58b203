import type { Kysely } from 'kysely';
import type { Database, WebhookEndpointsTable } from '../schema.js';

/** A tenant's webhook endpoint (migration 014). Filters: undefined/null means "everything". */
export interface WebhookEndpointRow {
  id: string;
  tenantId: string;
  url: string;
  description: string;
  eventTypes: string[] | null;
  streams: string[] | null;
  domains: string[] | null;
  batchSize: number;
  secretSealed: string;
  previousSecretSealed: string | null;
  previousSecretExpiresAt: number | null;
  state: 'enabled' | 'disabled';
  disabledReason: string | null;
  disabledAt: number | null;
  createdAt: number;
  updatedAt: number;
}

const list = (s: string | null): string[] | null => (s === null ? null : (JSON.parse(s) as string[]));
const text = (l: readonly string[] | null | undefined): string | null => (l ? JSON.stringify(l) : null);

const toEndpoint = (r: WebhookEndpointsTable): WebhookEndpointRow => ({
  id: r.id,
  tenantId: r.tenant_id,
  url: r.url,
  description: r.description,
  eventTypes: list(r.event_types),
  streams: list(r.streams),
  domains: list(r.domains),
  batchSize: r.batch_size,
  secretSealed: r.secret_sealed,
  previousSecretSealed: r.previous_secret_sealed,
  previousSecretExpiresAt: r.previous_secret_expires_at === null ? null : Number(r.previous_secret_expires_at),
  state: r.state as WebhookEndpointRow['state'],
  disabledReason: r.disabled_reason,
  disabledAt: r.disabled_at === null ? null : Number(r.disabled_at),
  createdAt: Number(r.created_at),
  updatedAt: Number(r.updated_at),
});

export type WebhookEndpointPatch = Partial<
  Pick<
    WebhookEndpointRow,
    | 'url'
    | 'description'
    | 'eventTypes'
    | 'streams'
    | 'domains'
    | 'batchSize'
    | 'secretSealed'
    | 'previousSecretSealed'
    | 'previousSecretExpiresAt'
    | 'state'
    | 'disabledReason'
    | 'disabledAt'
  >
>;

export function webhookEndpointsRepository(db: Kysely<Database>) {
  return {
    async insert(e: WebhookEndpointRow): Promise<void> {
      await db
        .insertInto('webhook_endpoints')
        .values({
          id: e.id,
          tenant_id: e.tenantId,
          url: e.url,
          description: e.description,
          event_types: text(e.eventTypes),
          streams: text(e.streams),
          domains: text(e.domains),
          batch_size: e.batchSize,
          secret_sealed: e.secretSealed,
          previous_secret_sealed: e.previousSecretSealed,
          previous_secret_expires_at: e.previousSecretExpiresAt,
          state: e.state,
          disabled_reason: e.disabledReason,
          disabled_at: e.disabledAt,
          created_at: e.createdAt,
          updated_at: e.updatedAt,
        })
        .execute();
    },
    /** One endpoint; with `tenantId`, only if it is that tenant's. */
    async get(id: string, tenantId?: string): Promise<WebhookEndpointRow | undefined> {
      let q = db.selectFrom('webhook_endpoints').selectAll().where('id', '=', id);
      if (tenantId) q = q.where('tenant_id', '=', tenantId);
      const r = await q.executeTakeFirst();
      return r && toEndpoint(r);
    },
    async list(tenantId: string): Promise<WebhookEndpointRow[]> {
      const rows = await db.selectFrom('webhook_endpoints').selectAll().where('tenant_id', '=', tenantId).orderBy('id').execute();
      return rows.map(toEndpoint);
    },
    /** Enabled endpoints of these tenants: the dispatcher's fan-out targets. */
    async enabledFor(tenantIds: readonly string[]): Promise<WebhookEndpointRow[]> {
      if (!tenantIds.length) return [];
      const rows = await db
        .selectFrom('webhook_endpoints')
        .selectAll()
        .where('tenant_id', 'in', [...tenantIds])
        .where('state', '=', 'enabled')
        .execute();
      return rows.map(toEndpoint);
    },
    async update(id: string, patch: WebhookEndpointPatch, now: number): Promise<boolean> {
      const set: Partial<WebhookEndpointsTable> = { updated_at: now };
      if (patch.url !== undefined) set.url = patch.url;
      if (patch.description !== undefined) set.description = patch.description;
      if (patch.eventTypes !== undefined) set.event_types = text(patch.eventTypes);
      if (patch.streams !== undefined) set.streams = text(patch.streams);
      if (patch.domains !== undefined) set.domains = text(patch.domains);
      if (patch.batchSize !== undefined) set.batch_size = patch.batchSize;
      if (patch.secretSealed !== undefined) set.secret_sealed = patch.secretSealed;
      if (patch.previousSecretSealed !== undefined) set.previous_secret_sealed = patch.previousSecretSealed;
      if (patch.previousSecretExpiresAt !== undefined) set.previous_secret_expires_at = patch.previousSecretExpiresAt;
      if (patch.state !== undefined) set.state = patch.state;
      if (patch.disabledReason !== undefined) set.disabled_reason = patch.disabledReason;
      if (patch.disabledAt !== undefined) set.disabled_at = patch.disabledAt;
      const r = await db.updateTable('webhook_endpoints').set(set).where('id', '=', id).executeTakeFirst();
      return Number(r.numUpdatedRows) > 0;
    },
    /** Disables an enabled endpoint; false when it was not enabled (another node got there first). */
    async disable(id: string, reason: string, now: number): Promise<boolean> {
      const r = await db
        .updateTable('webhook_endpoints')
        .set({ state: 'disabled', disabled_reason: reason, disabled_at: now, updated_at: now })
        .where('id', '=', id)
        .where('state', '=', 'enabled')
        .executeTakeFirst();
      return Number(r.numUpdatedRows) > 0;
    },
    async delete(id: string): Promise<void> {
      await db.deleteFrom('webhook_endpoints').where('id', '=', id).execute();
    },
  };
}
