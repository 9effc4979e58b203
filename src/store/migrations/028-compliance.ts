import type { Kysely } from 'kysely';
import type { DialectCapabilities } from '../dialect.js';

/**
 * Compliance operations (src/compliance, docs/compliance.md).
 *
 * - `third_parties`: the register of services authorized to send for a tenant's domains or to
 *   process its data; the entry itself is one JSON document (owner, purpose, DPA, certifications,
 *   identifiers), the columns are what lookups need.
 * - `compliance_marks`: an alert raised once per (tenant, mark), e.g. `dmarc-source:198.51.100.7`,
 *   so a source seen in every daily report is announced once; an anomaly's mark holds its window.
 * - `incidents` and `incident_reminders`: an incident (one JSON document with its timeline) and one
 *   row per reminder or deadline of each notification clock, sent at most once (`sent_at`).
 * - `anomaly_counts`: counts per (tenant, scope, metric, hour bucket) the anomaly consumer keeps;
 *   `anomaly_seen`: the addresses each key has been used from.
 */
export async function up(db: Kysely<unknown>, d: DialectCapabilities): Promise<void> {
  const big = d.bigintType;
  await db.schema
    .createTable('third_parties')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('doc', 'text', (c) => c.notNull())
    .addColumn('created_at', big, (c) => c.notNull())
    .addColumn('updated_at', big, (c) => c.notNull())
    .addUniqueConstraint('third_parties_tenant_name', ['tenant_id', 'name'])
    .execute();
  await db.schema
    .createTable('compliance_marks')
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('mark', 'text', (c) => c.notNull())
    .addColumn('raised_at', big, (c) => c.notNull())
    .addPrimaryKeyConstraint('compliance_marks_pk', ['tenant_id', 'mark'])
    .execute();
  await db.schema
    .createTable('incidents')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('doc', 'text', (c) => c.notNull())
    .addColumn('opened_at', big, (c) => c.notNull())
    .addColumn('updated_at', big, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('incidents_tenant').on('incidents').columns(['tenant_id', 'opened_at']).execute();
  await db.schema
    .createTable('incident_reminders')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('incident_id', 'text', (c) => c.notNull())
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('regime', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('offset_ms', big, (c) => c.notNull())
    .addColumn('deadline_at', big, (c) => c.notNull())
    .addColumn('due_at', big, (c) => c.notNull())
    .addColumn('sent_at', big)
    .execute();
  await db.schema.createIndex('incident_reminders_due').on('incident_reminders').columns(['sent_at', 'due_at']).execute();
  await db.schema
    .createTable('anomaly_counts')
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('scope', 'text', (c) => c.notNull())
    .addColumn('metric', 'text', (c) => c.notNull())
    .addColumn('bucket', big, (c) => c.notNull())
    .addColumn('n', big, (c) => c.notNull())
    .addPrimaryKeyConstraint('anomaly_counts_pk', ['tenant_id', 'scope', 'metric', 'bucket'])
    .execute();
  await db.schema
    .createTable('anomaly_seen')
    .addColumn('tenant_id', 'text', (c) => c.notNull())
    .addColumn('key_id', 'text', (c) => c.notNull())
    .addColumn('address', 'text', (c) => c.notNull())
    .addColumn('first_at', big, (c) => c.notNull())
    .addPrimaryKeyConstraint('anomaly_seen_pk', ['tenant_id', 'key_id', 'address'])
    .execute();
}
