import type { Kysely } from 'kysely';
import type { DialectCapabilities } from '../dialect.js';

/**
 * Classification, DLP and continuous self-assessment (docs/classification.md, docs/self-assessment.md).
 *
 * - `classification_policies`: per tenant, the rules document (tag mapping, DLP detectors, custom
 *   patterns, health identifiers, policies per classification) as JSON, validated by
 *   src/classification before it is stored.
 * - `messages.classification`: the decision taken at accept time, as JSON: the classifications, the
 *   rule ids that raised them and the policy rules that apply. Never the matched data.
 * - `self_assessments`: one row per run of the self-assessment, with its dated findings as JSON, so
 *   history and regressions can be read back.
 */
export async function up(db: Kysely<unknown>, d: DialectCapabilities): Promise<void> {
  const big = d.bigintType;
  await db.schema
    .createTable('classification_policies')
    .addColumn('tenant_id', 'text', (c) => c.primaryKey())
    .addColumn('doc', 'text', (c) => c.notNull())
    .addColumn('updated_at', big, (c) => c.notNull())
    .execute();
  await db.schema.alterTable('messages').addColumn('classification', 'text').execute();
  await db.schema
    .createTable('self_assessments')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('started_at', big, (c) => c.notNull())
    .addColumn('finished_at', big, (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('findings', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('self_assessments_started').on('self_assessments').columns(['started_at']).execute();
}
