import type { Kysely, Selectable } from 'kysely';
import type { AuditEntriesTable, Database } from '../schema.js';

/** One audit entry as stored (migration 019); src/audit builds, hashes and verifies them. */
export interface AuditEntryRow {
  id: string;
  chain: string;
  seq: number;
  tenantId: string | null;
  at: number;
  actorKind: string;
  actorId: string;
  actorTenantId: string | null;
  actorIp: string | null;
  actorUserAgent: string | null;
  actorKeyId: string | null;
  action: string;
  resourceType: string;
  resourceId: string | null;
  beforeJson: string | null;
  afterJson: string | null;
  reason: string | null;
  prevHash: string;
  hash: string;
}

export interface AuditCheckpointRow {
  chain: string;
  seq: number;
  hash: string;
  keyId: string;
  signature: string;
  at: number;
}

export interface AuditSigningKeyRow {
  id: string;
  publicKey: string;
  privateSealed: string;
  createdAt: number;
}

export interface AuditFilter {
  chain: string;
  /** Entries with seq greater than this (the cursor). */
  afterSeq?: number;
  action?: string;
  resourceType?: string;
  resourceId?: string;
  actorId?: string;
  since?: number;
  until?: number;
  limit: number;
}

const toRow = (r: Selectable<AuditEntriesTable>): AuditEntryRow => ({
  id: r.id,
  chain: r.chain,
  seq: Number(r.seq),
  tenantId: r.tenant_id,
  at: Number(r.at),
  actorKind: r.actor_kind,
  actorId: r.actor_id,
  actorTenantId: r.actor_tenant_id,
  actorIp: r.actor_ip,
  actorUserAgent: r.actor_user_agent,
  actorKeyId: r.actor_key_id,
  action: r.action,
  resourceType: r.resource_type,
  resourceId: r.resource_id,
  beforeJson: r.before_json,
  afterJson: r.after_json,
  reason: r.reason,
  prevHash: r.prev_hash,
  hash: r.hash,
});

export function auditRepository(db: Kysely<Database>) {
  return {
    /**
     * Takes the next seq of `chain` and answers it with the hash it follows. The UPDATE is the first
     * write to the head row, so on PostgreSQL it holds that row's lock until the caller's transaction
     * ends: a second node appending to the same chain waits here and then sees this append's seq.
     * Only inside a transaction, followed by `insertEntry` and `setHead`.
     */
    async claimNext(chain: string, genesisHash: string, now: number): Promise<{ seq: number; prevHash: string }> {
      await db
        .insertInto('audit_chain_heads')
        .values({ chain, seq: 0, hash: genesisHash, updated_at: now })
        .onConflict((oc) => oc.column('chain').doNothing())
        .execute();
      const row = await db
        .updateTable('audit_chain_heads')
        .set((eb) => ({ seq: eb('seq', '+', 1), updated_at: now }))
        .where('chain', '=', chain)
        .returning(['seq', 'hash'])
        .executeTakeFirstOrThrow();
      return { seq: Number(row.seq), prevHash: row.hash };
    },
    async setHeadHash(chain: string, hash: string): Promise<void> {
      await db.updateTable('audit_chain_heads').set({ hash }).where('chain', '=', chain).execute();
    },
    async insertEntry(e: AuditEntryRow): Promise<void> {
      await db
        .insertInto('audit_entries')
        .values({
          id: e.id,
          chain: e.chain,
          seq: e.seq,
          tenant_id: e.tenantId,
          at: e.at,
          actor_kind: e.actorKind,
          actor_id: e.actorId,
          actor_tenant_id: e.actorTenantId,
          actor_ip: e.actorIp,
          actor_user_agent: e.actorUserAgent,
          actor_key_id: e.actorKeyId,
          action: e.action,
          resource_type: e.resourceType,
          resource_id: e.resourceId,
          before_json: e.beforeJson,
          after_json: e.afterJson,
          reason: e.reason,
          prev_hash: e.prevHash,
          hash: e.hash,
        })
        .execute();
    },
    /** Every chain with its head, ordered by name. */
    async heads(): Promise<{ chain: string; seq: number; hash: string }[]> {
      const rows = await db.selectFrom('audit_chain_heads').select(['chain', 'seq', 'hash']).orderBy('chain').execute();
      return rows.map((r) => ({ chain: r.chain, seq: Number(r.seq), hash: r.hash }));
    },
    async head(chain: string): Promise<{ seq: number; hash: string } | undefined> {
      const r = await db.selectFrom('audit_chain_heads').select(['seq', 'hash']).where('chain', '=', chain).executeTakeFirst();
      return r ? { seq: Number(r.seq), hash: r.hash } : undefined;
    },
    /** A chain's entries in seq order, filtered; the cursor is the seq. */
    async page(f: AuditFilter): Promise<AuditEntryRow[]> {
      let q = db.selectFrom('audit_entries').selectAll().where('chain', '=', f.chain);
      if (f.afterSeq !== undefined) q = q.where('seq', '>', f.afterSeq);
      if (f.action !== undefined) q = q.where('action', '=', f.action);
      if (f.resourceType !== undefined) q = q.where('resource_type', '=', f.resourceType);
      if (f.resourceId !== undefined) q = q.where('resource_id', '=', f.resourceId);
      if (f.actorId !== undefined) q = q.where('actor_id', '=', f.actorId);
      if (f.since !== undefined) q = q.where('at', '>=', f.since);
      if (f.until !== undefined) q = q.where('at', '<', f.until);
      return (await q.orderBy('seq').limit(f.limit).execute()).map(toRow);
    },
    async insertCheckpoint(c: AuditCheckpointRow): Promise<void> {
      await db
        .insertInto('audit_checkpoints')
        .values({ chain: c.chain, seq: c.seq, hash: c.hash, key_id: c.keyId, signature: c.signature, at: c.at })
        .execute();
    },
    async checkpoints(chain: string): Promise<AuditCheckpointRow[]> {
      const rows = await db.selectFrom('audit_checkpoints').selectAll().where('chain', '=', chain).orderBy('seq').execute();
      return rows.map((r) => ({
        chain: r.chain,
        seq: Number(r.seq),
        hash: r.hash,
        keyId: r.key_id,
        signature: r.signature,
        at: Number(r.at),
      }));
    },
    /** The signing key `id`, creating it from `make()` when absent (two nodes racing keep the first). */
    async signingKey(id: string, make: () => AuditSigningKeyRow): Promise<AuditSigningKeyRow> {
      const found = await this.getSigningKey(id);
      if (found) return found;
      const k = make();
      await db
        .insertInto('audit_signing_keys')
        .values({ id, public_key: k.publicKey, private_sealed: k.privateSealed, created_at: k.createdAt })
        .onConflict((oc) => oc.column('id').doNothing())
        .execute();
      return (await this.getSigningKey(id)) ?? k;
    },
    async getSigningKey(id: string): Promise<AuditSigningKeyRow | undefined> {
      const r = await db.selectFrom('audit_signing_keys').selectAll().where('id', '=', id).executeTakeFirst();
      return r ? { id: r.id, publicKey: r.public_key, privateSealed: r.private_sealed, createdAt: Number(r.created_at) } : undefined;
    },
  };
}
