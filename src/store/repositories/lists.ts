import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';

export interface ListRow {
  id: string;
  tenantId: string;
  name: string;
  createdAt: number;
}

export interface ListMemberRow {
  listId: string;
  address: string;
  fields: Record<string, string>;
  importId: string;
  createdAt: number;
}

export interface ListImportRow {
  id: string;
  listId: string;
  tenantId: string;
  createdAt: number;
  rows: number;
  added: number;
  /** Counts per finding kind, and whatever else the import reports (JSON). */
  summary: Record<string, unknown>;
}

export interface ImportFindingRow {
  importId: string;
  row: number;
  address: string;
  findings: unknown[];
}

const toList = (r: Database['lists']): ListRow => ({ id: r.id, tenantId: r.tenant_id, name: r.name, createdAt: Number(r.created_at) });
const toImport = (r: Database['list_imports']): ListImportRow => ({
  id: r.id,
  listId: r.list_id,
  tenantId: r.tenant_id,
  createdAt: Number(r.created_at),
  rows: Number(r.rows),
  added: Number(r.added),
  summary: JSON.parse(r.summary) as Record<string, unknown>,
});

export function listsRepository(db: Kysely<Database>) {
  return {
    async insert(l: ListRow): Promise<void> {
      await db.insertInto('lists').values({ id: l.id, tenant_id: l.tenantId, name: l.name, created_at: l.createdAt }).execute();
    },
    async get(tenantId: string, id: string): Promise<ListRow | undefined> {
      const r = await db.selectFrom('lists').selectAll().where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
      return r && toList(r);
    },
    async list(tenantId: string): Promise<ListRow[]> {
      return (await db.selectFrom('lists').selectAll().where('tenant_id', '=', tenantId).orderBy('id').limit(1000).execute()).map(toList);
    },
    async countMembers(listId: string): Promise<number> {
      const r = await db
        .selectFrom('list_members')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('list_id', '=', listId)
        .executeTakeFirst();
      return Number(r?.n ?? 0);
    },
    /** The addresses of `addresses` already on the list. */
    async existing(listId: string, addresses: string[]): Promise<Set<string>> {
      const out = new Set<string>();
      for (let i = 0; i < addresses.length; i += 500) {
        const rows = await db
          .selectFrom('list_members')
          .select('address')
          .where('list_id', '=', listId)
          .where('address', 'in', addresses.slice(i, i + 500))
          .execute();
        for (const r of rows) out.add(r.address);
      }
      return out;
    },
    /** Adds members; an address already on the list keeps its row. Returns how many were new. */
    async addMembers(rows: ListMemberRow[]): Promise<number> {
      let added = 0;
      for (let i = 0; i < rows.length; i += 200) {
        const r = await db
          .insertInto('list_members')
          .values(
            rows.slice(i, i + 200).map((m) => ({
              list_id: m.listId,
              address: m.address,
              fields: JSON.stringify(m.fields),
              import_id: m.importId,
              created_at: m.createdAt,
            })),
          )
          .onConflict((oc) => oc.columns(['list_id', 'address']).doNothing())
          .executeTakeFirst();
        added += Number(r.numInsertedOrUpdatedRows ?? 0);
      }
      return added;
    },
    async insertImport(i: ListImportRow): Promise<void> {
      await db
        .insertInto('list_imports')
        .values({
          id: i.id,
          list_id: i.listId,
          tenant_id: i.tenantId,
          created_at: i.createdAt,
          rows: i.rows,
          added: i.added,
          summary: JSON.stringify(i.summary),
        })
        .execute();
    },
    async finishImport(id: string, rows: number, added: number, summary: Record<string, unknown>): Promise<void> {
      await db
        .updateTable('list_imports')
        .set({ rows, added, summary: JSON.stringify(summary) })
        .where('id', '=', id)
        .execute();
    },
    async getImport(tenantId: string, id: string): Promise<ListImportRow | undefined> {
      const r = await db.selectFrom('list_imports').selectAll().where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
      return r && toImport(r);
    },
    /** The list's newest import (its contacts are the unproven ones), if any. */
    async latestImport(listId: string): Promise<ListImportRow | undefined> {
      const r = await db
        .selectFrom('list_imports')
        .selectAll()
        .where('list_id', '=', listId)
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .limit(1)
        .executeTakeFirst();
      return r && toImport(r);
    },
    async addFindings(rows: ImportFindingRow[]): Promise<void> {
      for (let i = 0; i < rows.length; i += 200) {
        await db
          .insertInto('list_import_findings')
          .values(
            rows
              .slice(i, i + 200)
              .map((f) => ({ import_id: f.importId, row: f.row, address: f.address, findings: JSON.stringify(f.findings) })),
          )
          .execute();
      }
    },
    async findings(importId: string, afterRow: number, limit: number): Promise<ImportFindingRow[]> {
      const rows = await db
        .selectFrom('list_import_findings')
        .selectAll()
        .where('import_id', '=', importId)
        .where('row', '>', afterRow)
        .orderBy('row')
        .limit(limit)
        .execute();
      return rows.map((r) => ({
        importId: r.import_id,
        row: Number(r.row),
        address: r.address,
        findings: JSON.parse(r.findings) as unknown[],
      }));
    },
  };
}
