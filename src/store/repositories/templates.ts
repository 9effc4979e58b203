import type { Kysely } from 'kysely';
import type { Database, TemplatesTable } from '../schema.js';

/**
 * Templates, their published versions (migration 017) and the tenant's preflight refusal policy.
 * Content is opaque JSON here: the content concern defines and checks its shape. A published
 * version is inserted once and there is no statement that updates one.
 */
export interface TemplateRow {
  id: string;
  tenantId: string;
  name: string;
  stream: string | null;
  /** The content being authored (JSON-able object). */
  draft: unknown;
  currentVersion: number | null;
  createdAt: number;
  updatedAt: number;
}

export interface TemplateVersionRow {
  templateId: string;
  version: number;
  content: unknown;
  publishedAt: number;
}

const toTemplate = (r: TemplatesTable): TemplateRow => ({
  id: r.id,
  tenantId: r.tenant_id,
  name: r.name,
  stream: r.stream,
  draft: JSON.parse(r.draft) as unknown,
  currentVersion: r.current_version === null ? null : Number(r.current_version),
  createdAt: Number(r.created_at),
  updatedAt: Number(r.updated_at),
});

export function templatesRepository(db: Kysely<Database>) {
  return {
    async insert(t: TemplateRow): Promise<void> {
      await db
        .insertInto('templates')
        .values({
          id: t.id,
          tenant_id: t.tenantId,
          name: t.name,
          stream: t.stream,
          draft: JSON.stringify(t.draft),
          current_version: t.currentVersion,
          created_at: t.createdAt,
          updated_at: t.updatedAt,
        })
        .execute();
    },
    async get(tenantId: string, id: string): Promise<TemplateRow | undefined> {
      const r = await db.selectFrom('templates').selectAll().where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
      return r && toTemplate(r);
    },
    async getByName(tenantId: string, name: string): Promise<TemplateRow | undefined> {
      const r = await db.selectFrom('templates').selectAll().where('tenant_id', '=', tenantId).where('name', '=', name).executeTakeFirst();
      return r && toTemplate(r);
    },
    /** A tenant's templates by id (ids sort by creation), one page after `after`. */
    async list(tenantId: string, opts: { after?: string; limit: number }): Promise<TemplateRow[]> {
      let q = db.selectFrom('templates').selectAll().where('tenant_id', '=', tenantId);
      if (opts.after) q = q.where('id', '>', opts.after);
      return (await q.orderBy('id').limit(opts.limit).execute()).map(toTemplate);
    },
    async updateDraft(tenantId: string, id: string, change: { draft: unknown; stream: string | null; at: number }): Promise<void> {
      await db
        .updateTable('templates')
        .set({ draft: JSON.stringify(change.draft), stream: change.stream, updated_at: change.at })
        .where('tenant_id', '=', tenantId)
        .where('id', '=', id)
        .execute();
    },
    async setCurrent(tenantId: string, id: string, version: number, at: number): Promise<void> {
      await db
        .updateTable('templates')
        .set({ current_version: version, updated_at: at })
        .where('tenant_id', '=', tenantId)
        .where('id', '=', id)
        .execute();
    },
    /** Inserts a published version; a second insert of the same number fails on the primary key. */
    async insertVersion(v: TemplateVersionRow): Promise<void> {
      await db
        .insertInto('template_versions')
        .values({ template_id: v.templateId, version: v.version, content: JSON.stringify(v.content), published_at: v.publishedAt })
        .execute();
    },
    async version(templateId: string, version: number): Promise<TemplateVersionRow | undefined> {
      const r = await db
        .selectFrom('template_versions')
        .selectAll()
        .where('template_id', '=', templateId)
        .where('version', '=', version)
        .executeTakeFirst();
      return (
        r && { templateId: r.template_id, version: Number(r.version), content: JSON.parse(r.content), publishedAt: Number(r.published_at) }
      );
    },
    /** Version numbers and publication times, oldest first (content is read one version at a time). */
    async versions(templateId: string): Promise<{ version: number; publishedAt: number }[]> {
      const rows = await db
        .selectFrom('template_versions')
        .select(['version', 'published_at'])
        .where('template_id', '=', templateId)
        .orderBy('version')
        .execute();
      return rows.map((r) => ({ version: Number(r.version), publishedAt: Number(r.published_at) }));
    },
    async latestVersion(templateId: string): Promise<number> {
      const r = await db
        .selectFrom('template_versions')
        .select((eb) => eb.fn.max('version').as('v'))
        .where('template_id', '=', templateId)
        .executeTakeFirst();
      return r?.v == null ? 0 : Number(r.v);
    },

    /** The preflight codes that refuse this tenant's sends (empty: none). */
    async refusedCodes(tenantId: string): Promise<string[]> {
      const r = await db.selectFrom('preflight_policies').select('refuse').where('tenant_id', '=', tenantId).executeTakeFirst();
      return r ? (JSON.parse(r.refuse) as string[]) : [];
    },
    async setRefusedCodes(tenantId: string, codes: string[], at: number): Promise<void> {
      const refuse = JSON.stringify(codes);
      await db
        .insertInto('preflight_policies')
        .values({ tenant_id: tenantId, refuse, updated_at: at })
        .onConflict((oc) => oc.column('tenant_id').doUpdateSet({ refuse, updated_at: at }))
        .execute();
    },
  };
}
