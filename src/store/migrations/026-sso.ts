import type { Kysely } from 'kysely';
import type { DialectCapabilities } from '../dialect.js';

/**
 * Single sign-on (issue 17, src/access/sso.ts).
 *
 * `sso_providers`: a tenant's identity provider per protocol (`oidc` or `saml`): `settings` is the JSON
 * of what is not secret (issuer, client id, scopes, certificate, group → role mapping); `secret` is the
 * OIDC client secret sealed with the master key (NULL for SAML).
 *
 * `sso_requests`: a sign-in that was started and not yet finished: the OIDC `state` or the SAML
 * request ID is the key, with the nonce and PKCE verifier it needs back; taken (deleted) once, so a
 * state is good for one callback only. `browser_hash` binds it to the browser that started it.
 *
 * `sso_assertions`: SAML assertion IDs already used, kept until the assertion's NotOnOrAfter: a
 * replayed assertion is refused on every node (the row is in the shared store, not in memory).
 */
export async function up(db: Kysely<unknown>, d: DialectCapabilities): Promise<void> {
  const big = d.bigintType;
  await db.schema
    .createTable('sso_providers')
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('protocol', 'text', (c) => c.notNull())
    .addColumn('settings', 'text', (c) => c.notNull())
    .addColumn('secret', 'text')
    .addColumn('updated_at', big, (c) => c.notNull())
    .addPrimaryKeyConstraint('sso_providers_pk', ['tenant_id', 'protocol'])
    .execute();
  await db.schema
    .createTable('sso_requests')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('protocol', 'text', (c) => c.notNull())
    .addColumn('nonce', 'text')
    .addColumn('code_verifier', 'text')
    .addColumn('browser_hash', 'text')
    .addColumn('created_at', big, (c) => c.notNull())
    .addColumn('expires_at', big, (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('sso_assertions')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('expires_at', big, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('sso_assertions_expiry').on('sso_assertions').column('expires_at').execute();
}
