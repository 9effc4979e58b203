import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';

/** Single sign-on state (migration 026, src/access/sso.ts). */
export type SsoProtocol = 'oidc' | 'saml';

export interface SsoProviderRow {
  tenantId: string;
  protocol: SsoProtocol;
  /** The JSON of the non-secret settings (src/access/sso-settings.ts reads it). */
  settings: string;
  /** The OIDC client secret, sealed; null for SAML. */
  secret: string | null;
  updatedAt: number;
}

export interface SsoRequestRow {
  id: string;
  tenantId: string;
  protocol: SsoProtocol;
  nonce: string | null;
  codeVerifier: string | null;
  browserHash: string | null;
  createdAt: number;
  expiresAt: number;
}

export function ssoRepository(db: Kysely<Database>) {
  return {
    async getProvider(tenantId: string, protocol: SsoProtocol): Promise<SsoProviderRow | undefined> {
      const r = await db
        .selectFrom('sso_providers')
        .selectAll()
        .where('tenant_id', '=', tenantId)
        .where('protocol', '=', protocol)
        .executeTakeFirst();
      return (
        r && {
          tenantId: r.tenant_id,
          protocol: r.protocol as SsoProtocol,
          settings: r.settings,
          secret: r.secret,
          updatedAt: Number(r.updated_at),
        }
      );
    },
    async putProvider(p: SsoProviderRow): Promise<void> {
      const values = { settings: p.settings, secret: p.secret, updated_at: p.updatedAt };
      await db
        .insertInto('sso_providers')
        .values({ tenant_id: p.tenantId, protocol: p.protocol, ...values })
        .onConflict((oc) => oc.columns(['tenant_id', 'protocol']).doUpdateSet(values))
        .execute();
    },
    async deleteProvider(tenantId: string, protocol: SsoProtocol): Promise<boolean> {
      const r = await db.deleteFrom('sso_providers').where('tenant_id', '=', tenantId).where('protocol', '=', protocol).executeTakeFirst();
      return Number(r.numDeletedRows) > 0;
    },
    async insertRequest(r: SsoRequestRow): Promise<void> {
      await db
        .insertInto('sso_requests')
        .values({
          id: r.id,
          tenant_id: r.tenantId,
          protocol: r.protocol,
          nonce: r.nonce,
          code_verifier: r.codeVerifier,
          browser_hash: r.browserHash,
          created_at: r.createdAt,
          expires_at: r.expiresAt,
        })
        .execute();
    },
    async getRequest(id: string): Promise<SsoRequestRow | undefined> {
      const r = await db.selectFrom('sso_requests').selectAll().where('id', '=', id).executeTakeFirst();
      return (
        r && {
          id: r.id,
          tenantId: r.tenant_id,
          protocol: r.protocol as SsoProtocol,
          nonce: r.nonce,
          codeVerifier: r.code_verifier,
          browserHash: r.browser_hash,
          createdAt: Number(r.created_at),
          expiresAt: Number(r.expires_at),
        }
      );
    },
    /** Deletes the request; true only for the one caller that deleted it (a state is used once). */
    async takeRequest(id: string): Promise<boolean> {
      const r = await db.deleteFrom('sso_requests').where('id', '=', id).executeTakeFirst();
      return Number(r.numDeletedRows) === 1;
    },
    /**
     * Remembers a SAML assertion ID until `expiresAt`; false when it was already remembered (a
     * replay). The primary key decides, so two nodes given the same assertion at once accept it once.
     */
    async rememberAssertion(id: string, tenantId: string, expiresAt: number): Promise<boolean> {
      const r = await db
        .insertInto('sso_assertions')
        .values({ id, tenant_id: tenantId, expires_at: expiresAt })
        .onConflict((oc) => oc.column('id').doNothing())
        .executeTakeFirst();
      return Number(r.numInsertedOrUpdatedRows ?? 0) === 1;
    },
    /** Forgets finished state: requests and assertion IDs past their expiry. */
    async purgeExpired(now: number): Promise<number> {
      const a = await db.deleteFrom('sso_requests').where('expires_at', '<=', now).executeTakeFirst();
      const b = await db.deleteFrom('sso_assertions').where('expires_at', '<=', now).executeTakeFirst();
      return Number(a.numDeletedRows) + Number(b.numDeletedRows);
    },
  };
}
