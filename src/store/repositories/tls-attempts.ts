import { type Kysely, sql } from 'kysely';
import type { DialectName } from '../dialect.js';
import type { Database, TlsAttemptsTable } from '../schema.js';
import { insertObjects } from './insert-rows.js';

/**
 * TLS evidence of delivery attempts (migration 006): one row per recipient attempt that reached the
 * TLS decision. Two readers, both by index: statistics per tenant/domain/period (auditors) and the
 * daily TLS-RPT aggregation per policy domain (RFC 8460 §4.4), which counts sessions, not recipients.
 */
export interface TlsAttemptRow {
  id: string;
  tenantId: string;
  messageId: string;
  recipientId: string;
  stream: string;
  domain: string;
  at: number;
  /** The recipient's outcome; `skipped`: this host refused by TLS policy, the next one was tried. */
  outcome: 'delivered' | 'deferred' | 'bounced' | 'failed' | 'skipped';
  sessionId: string;
  mxHost: string | null;
  ip: string | null;
  tls: boolean;
  verified: boolean;
  enforcedBy: 'mta-sts' | 'dane' | null;
  policySource: string;
  policyMode: string;
  tenantPolicy: string;
  mtaStsId: string | null;
  mtaStsMode: string | null;
  dane: string | null;
  tlsVersion: string | null;
  cipher: string | null;
  certSha256: string | null;
  verification: string;
  rptPolicyType: 'sts' | 'tlsa' | 'no-policy-found';
  rptPolicyString: string[];
  rptMxPatterns: string[];
  rptResult: string | null;
  rptReason: string | null;
  /** Egress pool the attempt left from (migration 022); null before it, or when unknown. */
  pool?: string | null;
  /** Local source address of the connection (migration 022). */
  sourceAddress?: string | null;
}

/** Counts over delivered recipients (and all attempts) of one domain in a period. */
export interface TlsStatsRow {
  domain: string;
  attempts: number;
  delivered: number;
  overTls: number;
  verified: number;
  mtaSts: number;
  dane: number;
  /** Attempts refused because the policy could not be met (deferred without sending). */
  policyFailures: number;
}

/** One aggregate line for TLS-RPT: sessions of one policy, MX host, IP and result. */
export interface TlsRptAggregate {
  domain: string;
  policyType: string;
  policyString: string[];
  mxPatterns: string[];
  result: string | null;
  mxHost: string | null;
  ip: string | null;
  reason: string | null;
  sessions: number;
}

const toRow = (a: TlsAttemptRow): TlsAttemptsTable => ({
  id: a.id,
  tenant_id: a.tenantId,
  message_id: a.messageId,
  recipient_id: a.recipientId,
  stream: a.stream,
  domain: a.domain,
  at: a.at,
  outcome: a.outcome,
  session_id: a.sessionId,
  mx_host: a.mxHost,
  ip: a.ip,
  tls: a.tls ? 1 : 0,
  verified: a.verified ? 1 : 0,
  enforced_by: a.enforcedBy,
  policy_source: a.policySource,
  policy_mode: a.policyMode,
  tenant_policy: a.tenantPolicy,
  mta_sts_id: a.mtaStsId,
  mta_sts_mode: a.mtaStsMode,
  dane: a.dane,
  tls_version: a.tlsVersion,
  cipher: a.cipher,
  cert_sha256: a.certSha256,
  verification: a.verification,
  rpt_policy_type: a.rptPolicyType,
  rpt_policy_string: JSON.stringify(a.rptPolicyString),
  rpt_mx_patterns: JSON.stringify(a.rptMxPatterns),
  rpt_result: a.rptResult,
  rpt_reason: a.rptReason,
  pool: a.pool ?? null,
  source_address: a.sourceAddress ?? null,
});

const n = (v: unknown): number => Number(v ?? 0);

export function tlsAttemptsRepository(db: Kysely<Database>, dialect: DialectName) {
  return {
    async insert(rows: TlsAttemptRow[]): Promise<void> {
      // 31 columns a row: chunks keep a statement under PostgreSQL's 65,535 bind parameters.
      for (let i = 0; i < rows.length; i += 500) await insertObjects(db, dialect, 'tls_attempts', rows.slice(i, i + 500).map(toRow));
    },

    async listForRecipient(recipientId: string): Promise<TlsAttemptRow[]> {
      const rows = await db.selectFrom('tls_attempts').selectAll().where('recipient_id', '=', recipientId).orderBy('at').execute();
      return rows.map((r) => ({
        id: r.id,
        tenantId: r.tenant_id,
        messageId: r.message_id,
        recipientId: r.recipient_id,
        stream: r.stream,
        domain: r.domain,
        at: r.at,
        outcome: r.outcome as TlsAttemptRow['outcome'],
        sessionId: r.session_id,
        mxHost: r.mx_host,
        ip: r.ip,
        tls: r.tls === 1,
        verified: r.verified === 1,
        enforcedBy: r.enforced_by as TlsAttemptRow['enforcedBy'],
        policySource: r.policy_source,
        policyMode: r.policy_mode,
        tenantPolicy: r.tenant_policy,
        mtaStsId: r.mta_sts_id,
        mtaStsMode: r.mta_sts_mode,
        dane: r.dane,
        tlsVersion: r.tls_version,
        cipher: r.cipher,
        certSha256: r.cert_sha256,
        verification: r.verification,
        rptPolicyType: r.rpt_policy_type as TlsAttemptRow['rptPolicyType'],
        rptPolicyString: JSON.parse(r.rpt_policy_string) as string[],
        rptMxPatterns: JSON.parse(r.rpt_mx_patterns) as string[],
        rptResult: r.rpt_result,
        rptReason: r.rpt_reason,
        pool: r.pool,
        sourceAddress: r.source_address,
      }));
    },

    /** Per-domain counts for one tenant over [from, to), optionally one domain (index tenant_id, domain, at). */
    async stats(q: { tenantId: string; from: number; to: number; domain?: string }): Promise<TlsStatsRow[]> {
      const delivered = sql<number>`sum(case when outcome = 'delivered' then 1 else 0 end)`;
      const deliveredAnd = (cond: ReturnType<typeof sql>) =>
        sql<number>`sum(case when outcome = 'delivered' and ${cond} then 1 else 0 end)`;
      let query = db
        .selectFrom('tls_attempts')
        .select([
          'domain',
          sql<number>`count(*)`.as('attempts'),
          delivered.as('delivered'),
          deliveredAnd(sql`tls = 1`).as('over_tls'),
          deliveredAnd(sql`verified = 1`).as('verified'),
          deliveredAnd(sql`enforced_by = 'mta-sts'`).as('mta_sts'),
          deliveredAnd(sql`enforced_by = 'dane'`).as('dane'),
          sql<number>`sum(case when outcome <> 'delivered' and rpt_result is not null then 1 else 0 end)`.as('policy_failures'),
        ])
        .where('tenant_id', '=', q.tenantId)
        .where('at', '>=', q.from)
        .where('at', '<', q.to);
      if (q.domain) query = query.where('domain', '=', q.domain);
      const rows = await query.groupBy('domain').orderBy('domain').execute();
      return rows.map((r) => ({
        domain: r.domain,
        attempts: n(r.attempts),
        delivered: n(r.delivered),
        overTls: n(r.over_tls),
        verified: n(r.verified),
        mtaSts: n(r.mta_sts),
        dane: n(r.dane),
        policyFailures: n(r.policy_failures),
      }));
    },

    /** Sessions over [from, to) grouped the way an RFC 8460 report counts them (index at, domain). */
    async rptAggregates(q: { from: number; to: number; domain?: string }): Promise<TlsRptAggregate[]> {
      let query = db
        .selectFrom('tls_attempts')
        .select([
          'domain',
          'rpt_policy_type',
          'rpt_policy_string',
          'rpt_mx_patterns',
          'rpt_result',
          'mx_host',
          'ip',
          sql<string | null>`min(rpt_reason)`.as('reason'),
          sql<number>`count(distinct session_id)`.as('sessions'),
        ])
        .where('at', '>=', q.from)
        .where('at', '<', q.to);
      if (q.domain) query = query.where('domain', '=', q.domain);
      const rows = await query
        .groupBy(['domain', 'rpt_policy_type', 'rpt_policy_string', 'rpt_mx_patterns', 'rpt_result', 'mx_host', 'ip'])
        .orderBy('domain')
        .execute();
      return rows.map((r) => ({
        domain: r.domain,
        policyType: r.rpt_policy_type,
        policyString: JSON.parse(r.rpt_policy_string) as string[],
        mxPatterns: JSON.parse(r.rpt_mx_patterns) as string[],
        result: r.rpt_result,
        mxHost: r.mx_host,
        ip: r.ip,
        reason: r.reason,
        sessions: n(r.sessions),
      }));
    },

    async reportSent(policyDomain: string, day: string): Promise<boolean> {
      const r = await db
        .selectFrom('tlsrpt_reports')
        .select('report_id')
        .where('policy_domain', '=', policyDomain)
        .where('day', '=', day)
        .executeTakeFirst();
      return r !== undefined;
    },

    async markReportSent(r: {
      policyDomain: string;
      day: string;
      reportId: string;
      destinations: string[];
      sentAt: number;
    }): Promise<void> {
      await db
        .insertInto('tlsrpt_reports')
        .values({
          policy_domain: r.policyDomain,
          day: r.day,
          report_id: r.reportId,
          destinations: JSON.stringify(r.destinations),
          sent_at: r.sentAt,
        })
        .onConflict((oc) => oc.columns(['policy_domain', 'day']).doNothing())
        .execute();
    },
  };
}
