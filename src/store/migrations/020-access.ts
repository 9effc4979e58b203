import type { Kysely } from 'kysely';
import type { DialectCapabilities } from '../dialect.js';

/**
 * People, roles, sessions and the sign-in throttle (issue 17, src/access).
 *
 * `users`: a person of one tenant, or a platform operator (`tenant_id` NULL) who acts on any tenant.
 * Emails are unique across the installation so a login needs only email and password. `password_hash`
 * is an Argon2id PHC string (NULL for a user who signs in only through an external identity);
 * `external_issuer`/`external_subject` are the seam SSO fills (issuer + subject, unique together).
 * `totp_secret` is sealed with the master key; `totp_enabled` flips only after a confirmed code.
 *
 * `user_sessions`: one row per signed-in browser; the cookie carries a random token and only its
 * SHA-256 is stored, with the CSRF token's. Logout and disabling the user set `revoked_at`.
 *
 * `roles`: a tenant's custom roles (built-in names are refused), permissions as comma-separated text.
 *
 * `access_throttle`: failures per subject (`login-ip:…`, `login-account:…`, `key-ip:…`) and until when
 * it is refused; in the store so every node of a PostgreSQL cluster counts the same failures.
 */
export async function up(db: Kysely<unknown>, d: DialectCapabilities): Promise<void> {
  const big = d.bigintType;
  await db.schema
    .createTable('users')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text')
    .addColumn('email', 'text', (c) => c.notNull().unique())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('role', 'text', (c) => c.notNull())
    .addColumn('password_hash', 'text')
    .addColumn('totp_secret', 'text')
    .addColumn('totp_enabled', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('external_issuer', 'text')
    .addColumn('external_subject', 'text')
    .addColumn('created_at', big, (c) => c.notNull())
    .addColumn('disabled_at', big)
    .addColumn('last_login_at', big)
    .addUniqueConstraint('users_external_identity', ['external_issuer', 'external_subject'])
    .execute();
  await db.schema.createIndex('users_tenant').on('users').columns(['tenant_id', 'id']).execute();
  await db.schema
    .createTable('user_sessions')
    .addColumn('token_hash', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull())
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('csrf_hash', 'text', (c) => c.notNull())
    .addColumn('created_at', big, (c) => c.notNull())
    .addColumn('expires_at', big, (c) => c.notNull())
    .addColumn('revoked_at', big)
    .addColumn('ip', 'text')
    .addColumn('user_agent', 'text')
    .execute();
  await db.schema.createIndex('user_sessions_user').on('user_sessions').column('user_id').execute();
  await db.schema
    .createTable('roles')
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('permissions', 'text', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull())
    .addColumn('updated_at', big, (c) => c.notNull())
    .addPrimaryKeyConstraint('roles_pk', ['tenant_id', 'name'])
    .execute();
  await db.schema
    .createTable('access_throttle')
    .addColumn('subject', 'text', (c) => c.primaryKey())
    .addColumn('failures', 'integer', (c) => c.notNull())
    .addColumn('first_failure_at', big, (c) => c.notNull())
    .addColumn('blocked_until', big, (c) => c.notNull())
    .execute();
}
