import type { Kysely } from 'kysely';
import type { DialectCapabilities } from '../dialect.js';

/**
 * One row per DMARC aggregate or TLS-RPT report stored, so a report is stored once: unique per
 * reporter, report id and policy domain, and unique per content digest (the same records resent
 * under a new report id). `scope` is the uploading tenant for POST /v1/feedback and '' for the MX, so
 * one tenant's upload never hides a report from another. A report without an id has a null
 * `report_id` (NULLs are distinct in both dialects), and only its digest deduplicates it.
 */
export async function up(db: Kysely<unknown>, d: DialectCapabilities): Promise<void> {
  await db.schema
    .createTable('feedback_report_claims')
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('scope', 'text', (c) => c.notNull())
    .addColumn('org_name', 'text', (c) => c.notNull())
    .addColumn('report_id', 'text')
    .addColumn('domain', 'text', (c) => c.notNull())
    .addColumn('digest', 'text', (c) => c.notNull())
    .addColumn('document_id', 'text', (c) => c.notNull())
    .addColumn('received_at', d.bigintType, (c) => c.notNull())
    .addPrimaryKeyConstraint('feedback_report_claims_pk', ['kind', 'scope', 'digest'])
    .execute();
  await db.schema
    .createIndex('feedback_report_claims_report')
    .on('feedback_report_claims')
    .columns(['kind', 'scope', 'org_name', 'report_id', 'domain'])
    .unique()
    .execute();
}
