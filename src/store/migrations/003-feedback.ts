import type { Kysely } from 'kysely';
import type { DialectCapabilities } from '../dialect.js';

/**
 * Feedback: every document the inbound MX or POST /v1/feedback received (bounces, complaints,
 * reports, auto-replies), the rows of DMARC aggregate reports per sending domain, and TLS-RPT
 * policy summaries. Report rows are unique per (reporter, report id, row) so a reporter that sends
 * the same report twice (they do, after a timeout) does not double the counts.
 */
export async function up(db: Kysely<unknown>, d: DialectCapabilities): Promise<void> {
  const big = d.bigintType;
  await db.schema
    .createTable('feedback_documents')
    .addColumn('id', 'text', (c) => c.primaryKey())
    // Null when the document could not be attributed to a tenant (an unknown bounce, a report for
    // a domain nobody registered): it is kept for the operator, it affects no tenant.
    .addColumn('tenant_id', 'text')
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('rcpt', 'text')
    .addColumn('message_id', 'text')
    .addColumn('received_at', big, (c) => c.notNull())
    .addColumn('summary', 'text', (c) => c.notNull())
    .addColumn('raw_size', 'integer', (c) => c.notNull())
    .addColumn('raw', d.blobType)
    .execute();
  await db.schema.createIndex('feedback_documents_tenant').on('feedback_documents').columns(['tenant_id', 'received_at']).execute();

  await db.schema
    .createTable('dmarc_report_records')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('document_id', 'text', (c) => c.notNull())
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('domain_id', 'text', (c) => c.notNull().references('domains.id').onDelete('cascade'))
    .addColumn('policy_domain', 'text', (c) => c.notNull())
    // policy_published as the reporter saw it (p, sp, adkim, aspf, pct, testing): JSON.
    .addColumn('policy', 'text', (c) => c.notNull())
    .addColumn('org_name', 'text', (c) => c.notNull())
    .addColumn('report_id', 'text', (c) => c.notNull())
    .addColumn('row_index', 'integer', (c) => c.notNull())
    .addColumn('date_begin', big)
    .addColumn('date_end', big)
    .addColumn('source_ip', 'text', (c) => c.notNull())
    .addColumn('count', 'integer', (c) => c.notNull())
    .addColumn('disposition', 'text')
    .addColumn('dkim', 'text')
    .addColumn('spf', 'text')
    .addColumn('header_from', 'text')
    .addColumn('auth_results', 'text', (c) => c.notNull())
    .addColumn('authorized', 'integer', (c) => c.notNull())
    .addColumn('authorized_reason', 'text', (c) => c.notNull())
    .addUniqueConstraint('dmarc_report_records_row', ['domain_id', 'org_name', 'report_id', 'row_index'])
    .execute();
  await db.schema.createIndex('dmarc_report_records_domain').on('dmarc_report_records').columns(['domain_id', 'date_begin']).execute();

  await db.schema
    .createTable('tls_reports')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('document_id', 'text', (c) => c.notNull())
    .addColumn('tenant_id', 'text')
    .addColumn('org_name', 'text', (c) => c.notNull())
    .addColumn('report_id', 'text', (c) => c.notNull())
    .addColumn('policy_index', 'integer', (c) => c.notNull())
    .addColumn('date_begin', big)
    .addColumn('date_end', big)
    .addColumn('policy_type', 'text', (c) => c.notNull())
    .addColumn('policy_domain', 'text', (c) => c.notNull())
    .addColumn('success_count', 'integer', (c) => c.notNull())
    .addColumn('failure_count', 'integer', (c) => c.notNull())
    .addColumn('failures', 'text', (c) => c.notNull())
    .addUniqueConstraint('tls_reports_policy', ['org_name', 'report_id', 'policy_index'])
    .execute();
  await db.schema.createIndex('tls_reports_domain').on('tls_reports').columns(['policy_domain', 'date_begin']).execute();

  // Bounces that carry no VERP address are linked back through the original's Message-ID.
  await db.schema.createIndex('messages_message_id_header').on('messages').column('message_id_header').execute();
}
