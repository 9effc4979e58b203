import type { Kysely, Selectable } from 'kysely';
import type { Stream, SuppressionScope } from '../../core/index.js';
import type { ContentCipher } from '../content-cipher.js';
import type { Database, SuppressionChangesTable, SuppressionsTable } from '../schema.js';

/**
 * An erased address stays suppressed as `hash:` + its keyed hash (docs/retention.md): lookups add
 * the hash form of each address, so "do not mail" survives erasure without the address.
 */
export const ERASED_ADDRESS_PREFIX = 'hash:';

/**
 * Suppression entries and their history. "Any" (no tenant for global entries, no domain or stream
 * outside identity scope) is '' in the columns and null in the rows, see migration 004.
 */
export interface SuppressionRow {
  id: string;
  /** null for scope global (the operator's list). */
  tenantId: string | null;
  scope: SuppressionScope;
  domain: string | null;
  stream: Stream | null;
  /** Lower-cased address (see core addressKey). */
  address: string;
  reason: string;
  source: string;
  createdAt: number;
}

export interface SuppressionChangeRow {
  /** Write order, assigned by the store (the history's cursor). */
  seq?: number;
  id: string;
  tenantId: string | null;
  address: string;
  action: 'add' | 'repeat' | 'remove' | 'import';
  actor: string;
  reason: string | null;
  source: string | null;
  before: SuppressionRow | null;
  after: SuppressionRow | null;
  at: number;
}

export interface SuppressionFilter {
  address?: string;
  reason?: string;
  scope?: SuppressionScope;
  /** Entries with an id after this one (cursor paging; ids sort by creation time). */
  after?: string;
  limit?: number;
}

const nul = (v: string) => (v === '' ? null : v);

const toRow = (r: Selectable<SuppressionsTable>): SuppressionRow => ({
  id: r.id,
  tenantId: nul(r.tenant_id),
  scope: r.scope as SuppressionScope,
  domain: nul(r.domain),
  stream: nul(r.stream) as Stream | null,
  address: r.address,
  reason: r.reason,
  source: r.source,
  createdAt: Number(r.created_at),
});

const toColumns = (row: SuppressionRow): SuppressionsTable => ({
  id: row.id,
  tenant_id: row.tenantId ?? '',
  scope: row.scope,
  domain: row.domain ?? '',
  stream: row.stream ?? '',
  address: row.address,
  reason: row.reason,
  source: row.source,
  created_at: row.createdAt,
});

const toChange = (r: Selectable<SuppressionChangesTable>): SuppressionChangeRow => ({
  seq: Number(r.seq),
  id: r.id,
  tenantId: nul(r.tenant_id),
  address: r.address,
  action: r.action as SuppressionChangeRow['action'],
  actor: r.actor,
  reason: r.reason,
  source: r.source,
  before: r.before ? (JSON.parse(r.before) as SuppressionRow) : null,
  after: r.after ? (JSON.parse(r.after) as SuppressionRow) : null,
  at: Number(r.at),
});

export function suppressionsRepository(db: Kysely<Database>, cipher?: ContentCipher) {
  /** Entries of one list: a tenant's own (tenant + identity scope), or the global list (null). */
  const owned = (tenantId: string | null) =>
    db
      .selectFrom('suppressions')
      .selectAll()
      .where('tenant_id', '=', tenantId ?? '');

  return {
    /** Inserts unless the same address is already suppressed at the same place; true when inserted. */
    async add(row: SuppressionRow): Promise<boolean> {
      const r = await db
        .insertInto('suppressions')
        .values(toColumns(row))
        .onConflict((oc) => oc.columns(['tenant_id', 'scope', 'domain', 'stream', 'address']).doNothing())
        .executeTakeFirst();
      return Number(r.numInsertedOrUpdatedRows ?? 0) > 0;
    },
    /** The entry for this address at this place, if any. */
    async findAt(
      target: Pick<SuppressionRow, 'tenantId' | 'scope' | 'domain' | 'stream' | 'address'>,
    ): Promise<SuppressionRow | undefined> {
      const r = await db
        .selectFrom('suppressions')
        .selectAll()
        .where('tenant_id', '=', target.tenantId ?? '')
        .where('scope', '=', target.scope)
        .where('domain', '=', target.domain ?? '')
        .where('stream', '=', target.stream ?? '')
        .where('address', '=', target.address)
        .executeTakeFirst();
      return r && toRow(r);
    },
    async get(id: string): Promise<SuppressionRow | undefined> {
      const r = await db.selectFrom('suppressions').selectAll().where('id', '=', id).executeTakeFirst();
      return r && toRow(r);
    },
    /** Every entry that may stop mail from `tenantId` to these addresses: global ones and the tenant's. */
    async findForAddresses(tenantId: string, plain: string[]): Promise<SuppressionRow[]> {
      const out: SuppressionRow[] = [];
      const addresses = [...plain];
      // An erased entry answers as the address asked about: callers match entries by address.
      const asked = new Map<string, string>();
      if (cipher) {
        for (const a of plain) {
          const h = await cipher.indexHash(db, tenantId, a, false);
          if (h) {
            addresses.push(ERASED_ADDRESS_PREFIX + h);
            asked.set(ERASED_ADDRESS_PREFIX + h, a);
          }
        }
      }
      for (let i = 0; i < addresses.length; i += 500) {
        const rows = await db
          .selectFrom('suppressions')
          .selectAll()
          .where('tenant_id', 'in', [tenantId, ''])
          .where('address', 'in', addresses.slice(i, i + 500))
          .execute();
        out.push(...rows.map((r) => ({ ...toRow(r), address: asked.get(r.address) ?? r.address })));
      }
      return out;
    },
    async list(tenantId: string | null, f: SuppressionFilter = {}): Promise<SuppressionRow[]> {
      let q = owned(tenantId);
      if (f.address !== undefined) q = q.where('address', '=', f.address);
      if (f.reason !== undefined) q = q.where('reason', '=', f.reason);
      if (f.scope !== undefined) q = q.where('scope', '=', f.scope);
      if (f.after !== undefined) q = q.where('id', '>', f.after);
      q = q.orderBy('id');
      if (f.limit !== undefined) q = q.limit(f.limit);
      return (await q.execute()).map(toRow);
    },
    async remove(id: string): Promise<boolean> {
      const r = await db.deleteFrom('suppressions').where('id', '=', id).executeTakeFirst();
      return Number(r.numDeletedRows) > 0;
    },
    async appendChange(c: SuppressionChangeRow): Promise<void> {
      await db
        .insertInto('suppression_changes')
        .values({
          id: c.id,
          tenant_id: c.tenantId ?? '',
          address: c.address,
          action: c.action,
          actor: c.actor,
          reason: c.reason,
          source: c.source,
          before: c.before ? JSON.stringify(c.before) : null,
          after: c.after ? JSON.stringify(c.after) : null,
          at: c.at,
        })
        .execute();
    },
    /** Oldest first; `after` is the seq of the last change already read. */
    async changes(tenantId: string | null, f: { address?: string; after?: number; limit: number }): Promise<SuppressionChangeRow[]> {
      let q = db
        .selectFrom('suppression_changes')
        .selectAll()
        .where('tenant_id', '=', tenantId ?? '');
      if (f.address !== undefined) q = q.where('address', '=', f.address);
      if (f.after !== undefined) q = q.where('seq', '>', f.after);
      return (await q.orderBy('seq').limit(f.limit).execute()).map(toChange);
    },
    /** The tenant's automatic-suppression policy; undefined when the tenant does not exist. */
    async policy(tenantId: string): Promise<{ hardBounce: boolean; complaint: boolean } | undefined> {
      const r = await db
        .selectFrom('tenants')
        .select(['suppress_on_hard_bounce', 'suppress_on_complaint'])
        .where('id', '=', tenantId)
        .executeTakeFirst();
      return r && { hardBounce: Number(r.suppress_on_hard_bounce) === 1, complaint: Number(r.suppress_on_complaint) === 1 };
    },
    async setPolicy(tenantId: string, p: { hardBounce?: boolean; complaint?: boolean }): Promise<void> {
      const values: { suppress_on_hard_bounce?: number; suppress_on_complaint?: number } = {};
      if (p.hardBounce !== undefined) values.suppress_on_hard_bounce = p.hardBounce ? 1 : 0;
      if (p.complaint !== undefined) values.suppress_on_complaint = p.complaint ? 1 : 0;
      if (Object.keys(values).length) await db.updateTable('tenants').set(values).where('id', '=', tenantId).execute();
    },
  };
}
