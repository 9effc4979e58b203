import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';

/**
 * Migration 029: a tenant's classification rules document (stored as JSON text; src/classification
 * validates it) and the runs of the platform's self-assessment with their dated findings.
 */
export interface ClassificationPolicyRow {
  tenantId: string;
  doc: Record<string, unknown>;
  updatedAt: number;
}

export interface SelfAssessmentRow {
  id: string;
  startedAt: number;
  finishedAt: number;
  status: 'pass' | 'findings';
  findings: Array<Record<string, unknown>>;
}

export function classificationRepository(db: Kysely<Database>) {
  return {
    async getPolicy(tenantId: string): Promise<ClassificationPolicyRow | undefined> {
      const r = await db.selectFrom('classification_policies').selectAll().where('tenant_id', '=', tenantId).executeTakeFirst();
      return r && { tenantId: r.tenant_id, doc: JSON.parse(r.doc) as Record<string, unknown>, updatedAt: r.updated_at };
    },
    async putPolicy(row: ClassificationPolicyRow): Promise<void> {
      const doc = JSON.stringify(row.doc);
      await db
        .insertInto('classification_policies')
        .values({ tenant_id: row.tenantId, doc, updated_at: row.updatedAt })
        .onConflict((oc) => oc.column('tenant_id').doUpdateSet({ doc, updated_at: row.updatedAt }))
        .execute();
    },
  };
}

const toRun = (r: Database['self_assessments']): SelfAssessmentRow => ({
  id: r.id,
  startedAt: r.started_at,
  finishedAt: r.finished_at,
  status: r.status as SelfAssessmentRow['status'],
  findings: JSON.parse(r.findings) as SelfAssessmentRow['findings'],
});

export function selfAssessmentsRepository(db: Kysely<Database>) {
  return {
    async insert(row: SelfAssessmentRow): Promise<void> {
      await db
        .insertInto('self_assessments')
        .values({
          id: row.id,
          started_at: row.startedAt,
          finished_at: row.finishedAt,
          status: row.status,
          findings: JSON.stringify(row.findings),
        })
        .execute();
    },
    /** Newest first. */
    async list(q: { limit: number; before?: number }): Promise<SelfAssessmentRow[]> {
      let s = db.selectFrom('self_assessments').selectAll();
      if (q.before !== undefined) s = s.where('started_at', '<', q.before);
      const rows = await s.orderBy('started_at', 'desc').orderBy('id', 'desc').limit(q.limit).execute();
      return rows.map(toRun);
    },
  };
}
