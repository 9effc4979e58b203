import type { Kysely } from 'kysely';
import type { DialectCapabilities } from '../dialect.js';

/**
 * Transport security (issue 6):
 *  - `tenants.tls_policy`: the tenant's TLS policy as JSON `{ default, streams }`; null = opportunistic.
 *  - `mta_sts_policies`: the sender's MTA-STS cache (RFC 8461 §5.1), so enforced policies survive a
 *    restart: forgetting a policy would let one HTTPS outage downgrade a domain to no policy.
 *  - `tls_attempts`: one row per recipient attempt that reached the TLS decision, with its evidence and
 *    its RFC 8460 result. TLS statistics and the daily TLS-RPT report read these rows through the
 *    indexes below instead of scanning the event log.
 *  - `tlsrpt_reports`: reports sent (one per policy domain and day), so the daily job is idempotent.
 */
export async function up(db: Kysely<unknown>, d: DialectCapabilities): Promise<void> {
  const big = d.bigintType;
  await db.schema.alterTable('tenants').addColumn('tls_policy', 'text').execute();

  await db.schema
    .createTable('mta_sts_policies')
    .addColumn('domain', 'text', (c) => c.primaryKey())
    .addColumn('policy_id', 'text', (c) => c.notNull())
    .addColumn('policy_text', 'text', (c) => c.notNull())
    .addColumn('fetched_at', big, (c) => c.notNull())
    .addColumn('expires_at', big, (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('tls_attempts')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('message_id', 'text', (c) => c.notNull())
    .addColumn('recipient_id', 'text', (c) => c.notNull())
    .addColumn('stream', 'text', (c) => c.notNull())
    .addColumn('domain', 'text', (c) => c.notNull())
    .addColumn('at', big, (c) => c.notNull())
    .addColumn('outcome', 'text', (c) => c.notNull())
    .addColumn('session_id', 'text', (c) => c.notNull())
    .addColumn('mx_host', 'text')
    .addColumn('ip', 'text')
    .addColumn('tls', 'integer', (c) => c.notNull())
    .addColumn('verified', 'integer', (c) => c.notNull())
    .addColumn('enforced_by', 'text')
    .addColumn('policy_source', 'text', (c) => c.notNull())
    .addColumn('policy_mode', 'text', (c) => c.notNull())
    .addColumn('tenant_policy', 'text', (c) => c.notNull())
    .addColumn('mta_sts_id', 'text')
    .addColumn('mta_sts_mode', 'text')
    .addColumn('dane', 'text')
    .addColumn('tls_version', 'text')
    .addColumn('cipher', 'text')
    .addColumn('cert_sha256', 'text')
    .addColumn('verification', 'text', (c) => c.notNull())
    .addColumn('rpt_policy_type', 'text', (c) => c.notNull())
    .addColumn('rpt_policy_string', 'text', (c) => c.notNull())
    .addColumn('rpt_mx_patterns', 'text', (c) => c.notNull())
    .addColumn('rpt_result', 'text')
    .addColumn('rpt_reason', 'text')
    .execute();
  // Statistics per tenant and period (optionally one domain); the report per policy domain and day.
  await db.schema.createIndex('tls_attempts_tenant_at').on('tls_attempts').columns(['tenant_id', 'at']).execute();
  await db.schema.createIndex('tls_attempts_tenant_domain_at').on('tls_attempts').columns(['tenant_id', 'domain', 'at']).execute();
  await db.schema.createIndex('tls_attempts_at_domain').on('tls_attempts').columns(['at', 'domain']).execute();

  await db.schema
    .createTable('tlsrpt_reports')
    .addColumn('policy_domain', 'text', (c) => c.notNull())
    .addColumn('day', 'text', (c) => c.notNull())
    .addColumn('report_id', 'text', (c) => c.notNull())
    .addColumn('destinations', 'text', (c) => c.notNull())
    .addColumn('sent_at', big, (c) => c.notNull())
    .addPrimaryKeyConstraint('tlsrpt_reports_pk', ['policy_domain', 'day'])
    .execute();
}
