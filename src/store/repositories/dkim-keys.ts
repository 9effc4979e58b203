import type { Kysely } from 'kysely';
import type { Database, DkimKeysTable } from '../schema.js';

export type DkimAlgorithm = 'rsa-2048' | 'ed25519';
export type DkimKeyStatus = 'pending' | 'active' | 'retired';

export interface DkimKeyRow {
  id: string;
  tenantId: string;
  domainId: string;
  /** The domain name, the d= a signature with this key carries. */
  domain: string;
  selector: string;
  algorithm: DkimAlgorithm;
  /** Sealed (governance sealSecret, aad `dkim_keys:<id>`); the plaintext PEM is never stored. */
  privateKey: string;
  /** Base64 for the DNS `p=` tag. */
  publicKey: string;
  status: DkimKeyStatus;
  createdAt: number;
  activatedAt: number | null;
  retiredAt: number | null;
  /** What the selector signs for: 'all' (default) or a stream name. */
  purpose?: string;
  /** Last time its TXT record was seen in DNS carrying this public key. */
  verifiedAt?: number | null;
}

const toKey = (r: DkimKeysTable): DkimKeyRow => ({
  id: r.id,
  tenantId: r.tenant_id,
  domainId: r.domain_id,
  domain: r.domain,
  selector: r.selector,
  algorithm: r.algorithm as DkimAlgorithm,
  privateKey: r.private_key,
  publicKey: r.public_key,
  status: r.status as DkimKeyStatus,
  createdAt: r.created_at,
  activatedAt: r.activated_at,
  retiredAt: r.retired_at,
  purpose: r.purpose ?? 'all',
  verifiedAt: r.verified_at ?? null,
});

export function dkimKeysRepository(db: Kysely<Database>) {
  return {
    async insert(k: DkimKeyRow): Promise<void> {
      await db
        .insertInto('dkim_keys')
        .values({
          id: k.id,
          tenant_id: k.tenantId,
          domain_id: k.domainId,
          domain: k.domain,
          selector: k.selector,
          algorithm: k.algorithm,
          private_key: k.privateKey,
          public_key: k.publicKey,
          status: k.status,
          created_at: k.createdAt,
          activated_at: k.activatedAt,
          retired_at: k.retiredAt,
          purpose: k.purpose ?? 'all',
          verified_at: k.verifiedAt ?? null,
        })
        .execute();
    },
    async get(id: string): Promise<DkimKeyRow | undefined> {
      const r = await db.selectFrom('dkim_keys').selectAll().where('id', '=', id).executeTakeFirst();
      return r && toKey(r);
    },
    /** Every key of a domain, oldest first. */
    async listByDomain(domainId: string): Promise<DkimKeyRow[]> {
      const rows = await db
        .selectFrom('dkim_keys')
        .selectAll()
        .where('domain_id', '=', domainId)
        .orderBy('created_at')
        .orderBy('id')
        .execute();
      return rows.map(toKey);
    },
    /**
     * The active keys of these domains, for signing: per domain and algorithm the most recently
     * activated comes first (during a rotation overlap two may be active).
     */
    async activeFor(domainNames: readonly string[]): Promise<DkimKeyRow[]> {
      if (!domainNames.length) return [];
      const rows = await db
        .selectFrom('dkim_keys')
        .selectAll()
        .where('status', '=', 'active')
        .where('domain', 'in', [...new Set(domainNames)])
        .orderBy('domain')
        .orderBy('algorithm')
        .orderBy('activated_at', 'desc')
        .orderBy('id', 'desc')
        .execute();
      return rows.map(toKey);
    },
    /** Keys of these domains in one status (the on-demand activation looks for pending ones). */
    async withStatus(domainNames: readonly string[], status: DkimKeyStatus): Promise<DkimKeyRow[]> {
      if (!domainNames.length) return [];
      const rows = await db
        .selectFrom('dkim_keys')
        .selectAll()
        .where('status', '=', status)
        .where('domain', 'in', [...new Set(domainNames)])
        .orderBy('created_at')
        .orderBy('id')
        .execute();
      return rows.map(toKey);
    },
    async markVerified(id: string, at: number): Promise<void> {
      await db.updateTable('dkim_keys').set({ verified_at: at }).where('id', '=', id).execute();
    },
    /** Moves a key to `status`, stamping activated_at or retired_at; false when there is no such key. */
    async setStatus(id: string, status: DkimKeyStatus, at: number): Promise<boolean> {
      const r = await db
        .updateTable('dkim_keys')
        .set(
          status === 'active'
            ? { status, activated_at: at, retired_at: null }
            : status === 'retired'
              ? { status, retired_at: at }
              : { status, activated_at: null, retired_at: null },
        )
        .where('id', '=', id)
        .executeTakeFirst();
      return Number(r.numUpdatedRows) > 0;
    },
  };
}
