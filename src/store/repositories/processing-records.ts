import { type Kysely, type RawBuilder, sql } from 'kysely';
import type { DialectName } from '../dialect.js';
import type { Database } from '../schema.js';

/**
 * The aggregations behind a tenant's records of processing (src/compliance/records-of-processing.ts):
 * messages accepted per stream and classification, and recipients delivered per stream,
 * classification and TLS evidence, over a period. Each is one GROUP BY on an index: messages by
 * (tenant_id, created_at) (migration 016), tls_attempts by (tenant_id, at) (migration 006), joined to
 * messages by primary key. Nothing is read row by row in JavaScript.
 *
 * The classification is the decision's highest-ranked one, kept in `messages.classification` as JSON
 * text (migration 029); reading one field of it is the one place the two dialects differ.
 */

/** How a delivery was protected in transit, from its `tls_attempts` row. */
export type TlsEvidence = 'dane' | 'verified' | 'opportunistic' | 'plaintext';

export interface AcceptedCount {
  stream: string;
  /** null: no classification was raised. */
  classification: string | null;
  messages: number;
  /** Of them, captured by the sandbox instead of sent. */
  sandbox: number;
}

export interface DeliveredCount {
  stream: string;
  classification: string | null;
  evidence: TlsEvidence;
  /** Recipients delivered (one per delivered attempt). */
  recipients: number;
  /** Distinct messages among them. */
  messages: number;
}

export interface DeliveredMessages {
  stream: string;
  classification: string | null;
  /** Distinct messages with at least one recipient delivered in the period. */
  messages: number;
}

export interface PeriodQuery {
  tenantId: string;
  /** [from, to) in milliseconds. */
  from: number;
  to: number;
}

/** `messages.classification` → its `classification` field, as text (NULL when none was raised). */
function classificationOf(dialect: DialectName, column: string): RawBuilder<string | null> {
  const ref = sql.ref(column);
  return dialect === 'postgres'
    ? sql<string | null>`(cast(${ref} as jsonb) ->> 'classification')`
    : sql<string | null>`json_extract(${ref}, '$.classification')`;
}

/**
 * The TLS evidence of a delivered attempt, strongest first: DANE-authenticated (RFC 7672), a PKIX-valid
 * certificate for the MX name, TLS without an authenticated peer (opportunistic, RFC 3207), or none.
 */
const evidenceOf = sql<TlsEvidence>`case when tls_attempts.verification = 'dane-valid' then 'dane' when tls_attempts.verified = 1 then 'verified' when tls_attempts.tls = 1 then 'opportunistic' else 'plaintext' end`;

const n = (v: unknown): number => Number(v ?? 0);

export function processingRecordsRepository(db: Kysely<Database>, dialect: DialectName) {
  const messageClass = classificationOf(dialect, 'messages.classification');
  /** Delivered attempts of the tenant in the period, each with its message. */
  const deliveredBase = (q: PeriodQuery) =>
    db
      .selectFrom('tls_attempts')
      .innerJoin('messages', (j) =>
        j.onRef('messages.id', '=', 'tls_attempts.message_id').onRef('messages.tenant_id', '=', 'tls_attempts.tenant_id'),
      )
      .where('tls_attempts.tenant_id', '=', q.tenantId)
      .where('tls_attempts.at', '>=', q.from)
      .where('tls_attempts.at', '<', q.to)
      .where('tls_attempts.outcome', '=', 'delivered');
  return {
    /** Messages accepted in the period, per stream and classification. */
    async accepted(q: PeriodQuery): Promise<AcceptedCount[]> {
      const rows = await db
        .selectFrom('messages')
        .select([
          'messages.stream as stream',
          messageClass.as('classification'),
          sql<number>`count(*)`.as('messages'),
          sql<number>`sum(messages.sandbox)`.as('sandbox'),
        ])
        .where('messages.tenant_id', '=', q.tenantId)
        .where('messages.created_at', '>=', q.from)
        .where('messages.created_at', '<', q.to)
        .groupBy(['messages.stream', messageClass])
        .execute();
      return rows.map((r) => ({
        stream: r.stream,
        classification: r.classification ?? null,
        messages: n(r.messages),
        sandbox: n(r.sandbox),
      }));
    },

    /** Recipients delivered in the period (by the time of the delivering attempt), per stream, classification and TLS evidence. */
    async delivered(q: PeriodQuery): Promise<DeliveredCount[]> {
      const rows = await deliveredBase(q)
        .select([
          'tls_attempts.stream as stream',
          messageClass.as('classification'),
          evidenceOf.as('evidence'),
          sql<number>`count(*)`.as('recipients'),
          sql<number>`count(distinct tls_attempts.message_id)`.as('messages'),
        ])
        .groupBy(['tls_attempts.stream', messageClass, evidenceOf])
        .execute();
      return rows.map((r) => ({
        stream: r.stream,
        classification: r.classification ?? null,
        evidence: r.evidence,
        recipients: n(r.recipients),
        messages: n(r.messages),
      }));
    },

    /** Distinct messages delivered in the period per stream and classification (a message counts once, however protected). */
    async deliveredMessages(q: PeriodQuery): Promise<DeliveredMessages[]> {
      const rows = await deliveredBase(q)
        .select([
          'tls_attempts.stream as stream',
          messageClass.as('classification'),
          sql<number>`count(distinct tls_attempts.message_id)`.as('messages'),
        ])
        .groupBy(['tls_attempts.stream', messageClass])
        .execute();
      return rows.map((r) => ({ stream: r.stream, classification: r.classification ?? null, messages: n(r.messages) }));
    },
  };
}
