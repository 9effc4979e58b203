import { type Kysely, sql } from 'kysely';
import type { Database } from '../schema.js';

/**
 * Compliance operations (migration 028): the third-party register, alert marks, incidents with their
 * reminders, and the anomaly consumer's counts. Documents are stored as JSON; src/compliance owns
 * their shape and reads them back through its own types.
 */
export interface ThirdPartyRow {
  id: string;
  tenantId: string;
  name: string;
  doc: Record<string, unknown>;
  createdAt: number;
  updatedAt: number;
}

export interface IncidentRow {
  id: string;
  tenantId: string;
  doc: Record<string, unknown>;
  openedAt: number;
  updatedAt: number;
}

export interface IncidentReminderRow {
  id: string;
  incidentId: string;
  tenantId: string;
  regime: string;
  kind: 'reminder' | 'deadline';
  offsetMs: number;
  deadlineAt: number;
  dueAt: number;
  sentAt: number | null;
}

/** What the register's DMARC check reads of a stored aggregate report's rows. */
export interface DmarcSourceRow {
  policyDomain: string;
  sourceIp: string;
  count: number;
  dkim: string | null;
  spf: string | null;
  headerFrom: string | null;
  authResults: unknown;
}

const thirdParty = (r: Database['third_parties']): ThirdPartyRow => ({
  id: r.id,
  tenantId: r.tenant_id,
  name: r.name,
  doc: JSON.parse(r.doc) as Record<string, unknown>,
  createdAt: Number(r.created_at),
  updatedAt: Number(r.updated_at),
});
const incident = (r: Database['incidents']): IncidentRow => ({
  id: r.id,
  tenantId: r.tenant_id,
  doc: JSON.parse(r.doc) as Record<string, unknown>,
  openedAt: Number(r.opened_at),
  updatedAt: Number(r.updated_at),
});
const reminder = (r: Database['incident_reminders']): IncidentReminderRow => ({
  id: r.id,
  incidentId: r.incident_id,
  tenantId: r.tenant_id,
  regime: r.regime,
  kind: r.kind as IncidentReminderRow['kind'],
  offsetMs: Number(r.offset_ms),
  deadlineAt: Number(r.deadline_at),
  dueAt: Number(r.due_at),
  sentAt: r.sent_at === null ? null : Number(r.sent_at),
});

const dmarcSourceColumns = ['policy_domain', 'source_ip', 'count', 'dkim', 'spf', 'header_from', 'auth_results'] as const;
const dmarcSourceOf = (r: Pick<Database['dmarc_report_records'], (typeof dmarcSourceColumns)[number]>): DmarcSourceRow => ({
  policyDomain: r.policy_domain,
  sourceIp: r.source_ip,
  count: Number(r.count),
  dkim: r.dkim,
  spf: r.spf,
  headerFrom: r.header_from,
  authResults: JSON.parse(r.auth_results) as unknown,
});

export function complianceRepository(db: Kysely<Database>) {
  return {
    async thirdParties(tenantId?: string, limit = 1000): Promise<ThirdPartyRow[]> {
      let q = db.selectFrom('third_parties').selectAll();
      if (tenantId !== undefined) q = q.where('tenant_id', '=', tenantId);
      return (await q.orderBy('tenant_id').orderBy('name').limit(limit).execute()).map(thirdParty);
    },
    /** A page of a tenant's entries in id order (creation order), after the id `after`. */
    async thirdPartyPage(tenantId: string, p: { after?: string | undefined; limit: number }): Promise<ThirdPartyRow[]> {
      let q = db.selectFrom('third_parties').selectAll().where('tenant_id', '=', tenantId);
      if (p.after !== undefined) q = q.where('id', '>', p.after);
      return (await q.orderBy('id').limit(p.limit).execute()).map(thirdParty);
    },
    async thirdParty(tenantId: string, id: string): Promise<ThirdPartyRow | undefined> {
      const r = await db.selectFrom('third_parties').selectAll().where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
      return r ? thirdParty(r) : undefined;
    },
    /** Inserts unless the tenant has an entry of that name; true when inserted. */
    async insertThirdParty(r: ThirdPartyRow): Promise<boolean> {
      const res = await db
        .insertInto('third_parties')
        .values({
          id: r.id,
          tenant_id: r.tenantId,
          name: r.name,
          doc: JSON.stringify(r.doc),
          created_at: r.createdAt,
          updated_at: r.updatedAt,
        })
        .onConflict((oc) => oc.columns(['tenant_id', 'name']).doNothing())
        .executeTakeFirst();
      return Number(res.numInsertedOrUpdatedRows ?? 0) > 0;
    },
    async updateThirdParty(r: ThirdPartyRow): Promise<void> {
      await db
        .updateTable('third_parties')
        .set({ name: r.name, doc: JSON.stringify(r.doc), updated_at: r.updatedAt })
        .where('tenant_id', '=', r.tenantId)
        .where('id', '=', r.id)
        .execute();
    },
    async deleteThirdParty(tenantId: string, id: string): Promise<boolean> {
      const res = await db.deleteFrom('third_parties').where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
      return Number(res.numDeletedRows) > 0;
    },
    /** Records that an alert was raised; true the first time for (tenant, mark), false after. */
    async mark(tenantId: string, mark: string, now: number): Promise<boolean> {
      const res = await db
        .insertInto('compliance_marks')
        .values({ tenant_id: tenantId, mark, raised_at: now })
        .onConflict((oc) => oc.columns(['tenant_id', 'mark']).doNothing())
        .executeTakeFirst();
      return Number(res.numInsertedOrUpdatedRows ?? 0) > 0;
    },
    async dmarcSources(documentId: string, tenantId: string): Promise<DmarcSourceRow[]> {
      const rows = await db
        .selectFrom('dmarc_report_records')
        .select(dmarcSourceColumns)
        .where('document_id', '=', documentId)
        .where('tenant_id', '=', tenantId)
        .orderBy('row_index')
        .limit(10_000)
        .execute();
      return rows.map(dmarcSourceOf);
    },
    /** Every DMARC source a tenant's reports named since `sinceMs` (register seeding). */
    async dmarcSourcesSince(tenantId: string, sinceMs: number): Promise<DmarcSourceRow[]> {
      const rows = await db
        .selectFrom('dmarc_report_records')
        .select(dmarcSourceColumns)
        .where('tenant_id', '=', tenantId)
        .where('date_end', '>=', sinceMs)
        .limit(10_000)
        .execute();
      return rows.map(dmarcSourceOf);
    },
    async insertIncident(r: IncidentRow, reminders: IncidentReminderRow[]): Promise<void> {
      await db
        .insertInto('incidents')
        .values({ id: r.id, tenant_id: r.tenantId, doc: JSON.stringify(r.doc), opened_at: r.openedAt, updated_at: r.updatedAt })
        .execute();
      for (const m of reminders) {
        await db
          .insertInto('incident_reminders')
          .values({
            id: m.id,
            incident_id: m.incidentId,
            tenant_id: m.tenantId,
            regime: m.regime,
            kind: m.kind,
            offset_ms: m.offsetMs,
            deadline_at: m.deadlineAt,
            due_at: m.dueAt,
            sent_at: m.sentAt,
          })
          .execute();
      }
    },
    async updateIncident(r: IncidentRow): Promise<void> {
      await db
        .updateTable('incidents')
        .set({ doc: JSON.stringify(r.doc), updated_at: r.updatedAt })
        .where('tenant_id', '=', r.tenantId)
        .where('id', '=', r.id)
        .execute();
    },
    async incident(tenantId: string, id: string): Promise<IncidentRow | undefined> {
      const r = await db.selectFrom('incidents').selectAll().where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
      return r ? incident(r) : undefined;
    },
    async incidents(tenantId: string, limit = 100): Promise<IncidentRow[]> {
      const rows = await db
        .selectFrom('incidents')
        .selectAll()
        .where('tenant_id', '=', tenantId)
        .orderBy('opened_at', 'desc')
        .limit(limit)
        .execute();
      return rows.map(incident);
    },
    /** A page of a tenant's incidents, newest first, before the id `before`. */
    async incidentPage(tenantId: string, p: { before?: string | undefined; limit: number }): Promise<IncidentRow[]> {
      let q = db.selectFrom('incidents').selectAll().where('tenant_id', '=', tenantId);
      if (p.before !== undefined) q = q.where('id', '<', p.before);
      return (await q.orderBy('id', 'desc').limit(p.limit).execute()).map(incident);
    },
    async remindersOf(incidentId: string): Promise<IncidentReminderRow[]> {
      const rows = await db.selectFrom('incident_reminders').selectAll().where('incident_id', '=', incidentId).orderBy('due_at').execute();
      return rows.map(reminder);
    },
    async dueReminders(now: number, limit: number): Promise<IncidentReminderRow[]> {
      const rows = await db
        .selectFrom('incident_reminders')
        .selectAll()
        .where('sent_at', 'is', null)
        .where('due_at', '<=', now)
        .orderBy('due_at')
        .limit(limit)
        .execute();
      return rows.map(reminder);
    },
    /** Marks a reminder sent; false when another node (or an earlier run) already had. */
    async markReminderSent(id: string, now: number): Promise<boolean> {
      const res = await db
        .updateTable('incident_reminders')
        .set({ sent_at: now })
        .where('id', '=', id)
        .where('sent_at', 'is', null)
        .executeTakeFirst();
      return Number(res.numUpdatedRows) > 0;
    },
    /** Cancels the reminders not yet sent (the incident was closed). */
    async cancelReminders(incidentId: string, now: number): Promise<void> {
      await db.deleteFrom('incident_reminders').where('incident_id', '=', incidentId).where('sent_at', 'is', null).execute();
      void now;
    },
    async addAnomalyCount(r: { tenantId: string; scope: string; metric: string; bucket: number; n: number }): Promise<void> {
      await db
        .insertInto('anomaly_counts')
        .values({ tenant_id: r.tenantId, scope: r.scope, metric: r.metric, bucket: r.bucket, n: r.n })
        .onConflict((oc) => oc.columns(['tenant_id', 'scope', 'metric', 'bucket']).doUpdateSet({ n: sql`anomaly_counts.n + ${r.n}` }))
        .execute();
    },
    /** Adds each row's `n` to its count, in statements of up to 150 rows. */
    async addAnomalyCounts(rows: readonly { tenantId: string; scope: string; metric: string; bucket: number; n: number }[]): Promise<void> {
      for (let i = 0; i < rows.length; i += 150) {
        await db
          .insertInto('anomaly_counts')
          .values(
            rows.slice(i, i + 150).map((r) => ({ tenant_id: r.tenantId, scope: r.scope, metric: r.metric, bucket: r.bucket, n: r.n })),
          )
          .onConflict((oc) => oc.columns(['tenant_id', 'scope', 'metric', 'bucket']).doUpdateSet({ n: sql`anomaly_counts.n + excluded.n` }))
          .execute();
      }
    },
    /** Counts per bucket of one (tenant, scope, metric) with `from <= bucket <= to`. */
    async anomalyCounts(r: { tenantId: string; scope: string; metric: string; from: number; to: number }): Promise<Map<number, number>> {
      const rows = await db
        .selectFrom('anomaly_counts')
        .select(['bucket', 'n'])
        .where('tenant_id', '=', r.tenantId)
        .where('scope', '=', r.scope)
        .where('metric', '=', r.metric)
        .where('bucket', '>=', r.from)
        .where('bucket', '<=', r.to)
        .execute();
      return new Map(rows.map((x) => [Number(x.bucket), Number(x.n)]));
    },
    /** The client addresses a key has been used from. */
    async addressesSeen(tenantId: string, keyId: string): Promise<string[]> {
      const rows = await db
        .selectFrom('anomaly_seen')
        .select('address')
        .where('tenant_id', '=', tenantId)
        .where('key_id', '=', keyId)
        .execute();
      return rows.map((r) => r.address);
    },
    async addSeenAddresses(rows: readonly { tenantId: string; keyId: string; address: string; at: number }[]): Promise<void> {
      for (let i = 0; i < rows.length; i += 200) {
        await db
          .insertInto('anomaly_seen')
          .values(rows.slice(i, i + 200).map((r) => ({ tenant_id: r.tenantId, key_id: r.keyId, address: r.address, first_at: r.at })))
          .onConflict((oc) => oc.columns(['tenant_id', 'key_id', 'address']).doNothing())
          .execute();
      }
    },
  };
}
