import type { Kysely } from 'kysely';
import type { ContentCipher } from '../content-cipher.js';
import type { Database, DmarcReportRecordsTable, TlsReportsTable } from '../schema.js';

export const feedbackRawAt = (id: string) => `feedback_documents.raw:${id}`;
export const feedbackSummaryAt = (id: string) => `feedback_documents.summary:${id}`;

/**
 * What came back: feedback documents, DMARC aggregate rows per sending domain and TLS-RPT policy
 * summaries. Report rows are inserted with "do nothing on conflict" over (reporter, report id, row),
 * so a report received twice is counted once.
 */
export interface FeedbackDocumentRow {
  id: string;
  tenantId: string | null;
  kind: string;
  source: 'smtp' | 'api';
  rcpt: string | null;
  messageId: string | null;
  receivedAt: number;
  summary: Record<string, unknown>;
  rawSize: number;
  raw: Buffer | null;
}

export interface DmarcRecordRow {
  id: string;
  documentId: string;
  tenantId: string;
  domainId: string;
  policyDomain: string;
  /** policy_published as reported: p, sp, adkim, aspf, pct, testing. */
  policy: Record<string, unknown>;
  orgName: string;
  reportId: string;
  rowIndex: number;
  dateBegin: number | null;
  dateEnd: number | null;
  sourceIp: string;
  count: number;
  disposition: string | null;
  dkim: string | null;
  spf: string | null;
  headerFrom: string | null;
  authResults: unknown;
  authorized: boolean;
  authorizedReason: string;
}

/** A report as stored once: who sent it, its id, and a digest of its content (feedback/report-records.ts). */
export interface ReportClaim {
  kind: string;
  /** The uploading tenant for API uploads, '' for the MX. */
  scope: string;
  orgName: string;
  reportId: string;
  /** Policy domain (DMARC); '' for TLS-RPT, whose reports span domains. */
  domain: string;
  digest: string;
}

export interface TlsReportRow {
  id: string;
  documentId: string;
  tenantId: string | null;
  orgName: string;
  reportId: string;
  policyIndex: number;
  dateBegin: number | null;
  dateEnd: number | null;
  policyType: string;
  policyDomain: string;
  successCount: number;
  failureCount: number;
  failures: { resultType: string; failedSessionCount: number; receivingMxHostname?: string; sendingMtaIp?: string }[];
}

const toDmarc = (r: DmarcReportRecordsTable): DmarcRecordRow => ({
  id: r.id,
  documentId: r.document_id,
  tenantId: r.tenant_id,
  domainId: r.domain_id,
  policyDomain: r.policy_domain,
  policy: JSON.parse(r.policy) as Record<string, unknown>,
  orgName: r.org_name,
  reportId: r.report_id,
  rowIndex: r.row_index,
  dateBegin: r.date_begin === null ? null : Number(r.date_begin),
  dateEnd: r.date_end === null ? null : Number(r.date_end),
  sourceIp: r.source_ip,
  count: Number(r.count),
  disposition: r.disposition,
  dkim: r.dkim,
  spf: r.spf,
  headerFrom: r.header_from,
  authResults: JSON.parse(r.auth_results) as unknown,
  authorized: Number(r.authorized) === 1,
  authorizedReason: r.authorized_reason,
});

const toTls = (r: TlsReportsTable): TlsReportRow => ({
  id: r.id,
  documentId: r.document_id,
  tenantId: r.tenant_id,
  orgName: r.org_name,
  reportId: r.report_id,
  policyIndex: r.policy_index,
  dateBegin: r.date_begin === null ? null : Number(r.date_begin),
  dateEnd: r.date_end === null ? null : Number(r.date_end),
  policyType: r.policy_type,
  policyDomain: r.policy_domain,
  successCount: Number(r.success_count),
  failureCount: Number(r.failure_count),
  failures: JSON.parse(r.failures) as TlsReportRow['failures'],
});

export function feedbackRepository(db: Kysely<Database>, cipher: ContentCipher) {
  return {
    async insertDocument(d: FeedbackDocumentRow): Promise<void> {
      await db
        .insertInto('feedback_documents')
        .values({
          id: d.id,
          tenant_id: d.tenantId,
          kind: d.kind,
          source: d.source,
          rcpt: d.rcpt,
          message_id: d.messageId,
          received_at: d.receivedAt,
          // The raw report and its summary quote the original message (ARF, DSN): sealed.
          summary: await cipher.sealText(db, d.tenantId, feedbackSummaryAt(d.id), JSON.stringify(d.summary)),
          raw_size: d.rawSize,
          raw: d.raw && (await cipher.sealBytes(db, d.tenantId, feedbackRawAt(d.id), d.raw)),
        })
        .execute();
    },
    async listDocuments(tenantId: string, opts: { limit: number }): Promise<Omit<FeedbackDocumentRow, 'raw'>[]> {
      const rows = await db
        .selectFrom('feedback_documents')
        .select(['id', 'tenant_id', 'kind', 'source', 'rcpt', 'message_id', 'received_at', 'summary', 'raw_size'])
        .where('tenant_id', '=', tenantId)
        .orderBy('id', 'desc')
        .limit(opts.limit)
        .execute();
      return Promise.all(
        rows.map(async (r) => ({
          id: r.id,
          tenantId: r.tenant_id,
          kind: r.kind,
          source: r.source as 'smtp' | 'api',
          rcpt: r.rcpt,
          messageId: r.message_id,
          receivedAt: Number(r.received_at),
          summary: await cipher.openJson(db, feedbackSummaryAt(r.id), r.summary),
          rawSize: r.raw_size,
        })),
      );
    },
    /**
     * Records a report as stored, unless the same report (reporter, id and domain) or the same content
     * was stored before: then resolves with the document that holds it and records nothing. Call it in
     * the transaction that writes the report's rows.
     */
    async claimReport(c: ReportClaim & { documentId: string; receivedAt: number }): Promise<string | undefined> {
      const reportId = c.reportId || null;
      let q = db.selectFrom('feedback_report_claims').select('document_id').where('kind', '=', c.kind).where('scope', '=', c.scope);
      q = reportId
        ? q.where((w) =>
            w.or([
              w('digest', '=', c.digest),
              w.and([w('org_name', '=', c.orgName), w('report_id', '=', reportId), w('domain', '=', c.domain)]),
            ]),
          )
        : q.where('digest', '=', c.digest);
      const earlier = await q.executeTakeFirst();
      if (earlier) return earlier.document_id;
      // Two nodes may claim the same report at once: the loser's insert conflicts and does nothing.
      const res = await db
        .insertInto('feedback_report_claims')
        .values({
          kind: c.kind,
          scope: c.scope,
          org_name: c.orgName,
          report_id: reportId,
          domain: c.domain,
          digest: c.digest,
          document_id: c.documentId,
          received_at: c.receivedAt,
        })
        .onConflict((oc) => oc.doNothing())
        .executeTakeFirst();
      return Number(res.numInsertedOrUpdatedRows ?? 0) > 0 ? undefined : 'a report stored at the same time';
    },
    /** Inserts the rows not already stored; resolves with how many were new. */
    async insertDmarcRecords(rows: DmarcRecordRow[]): Promise<number> {
      let n = 0;
      for (const r of rows) {
        const res = await db
          .insertInto('dmarc_report_records')
          .values({
            id: r.id,
            document_id: r.documentId,
            tenant_id: r.tenantId,
            domain_id: r.domainId,
            policy_domain: r.policyDomain,
            policy: JSON.stringify(r.policy),
            org_name: r.orgName,
            report_id: r.reportId,
            row_index: r.rowIndex,
            date_begin: r.dateBegin,
            date_end: r.dateEnd,
            source_ip: r.sourceIp,
            count: r.count,
            disposition: r.disposition,
            dkim: r.dkim,
            spf: r.spf,
            header_from: r.headerFrom,
            auth_results: JSON.stringify(r.authResults),
            authorized: r.authorized ? 1 : 0,
            authorized_reason: r.authorizedReason,
          })
          .onConflict((oc) => oc.columns(['domain_id', 'org_name', 'report_id', 'row_index']).doNothing())
          .executeTakeFirst();
        n += Number(res.numInsertedOrUpdatedRows ?? 0) > 0 ? 1 : 0;
      }
      return n;
    },
    /** Rows of a domain whose report period ends at or after `sinceMs`. */
    async dmarcRecords(domainId: string, sinceMs: number): Promise<DmarcRecordRow[]> {
      const rows = await db
        .selectFrom('dmarc_report_records')
        .selectAll()
        .where('domain_id', '=', domainId)
        .where('date_end', '>=', sinceMs)
        .orderBy('date_begin')
        .orderBy('id')
        .execute();
      return rows.map(toDmarc);
    },
    async insertTlsReports(rows: TlsReportRow[]): Promise<number> {
      let n = 0;
      for (const r of rows) {
        const res = await db
          .insertInto('tls_reports')
          .values({
            id: r.id,
            document_id: r.documentId,
            tenant_id: r.tenantId,
            org_name: r.orgName,
            report_id: r.reportId,
            policy_index: r.policyIndex,
            date_begin: r.dateBegin,
            date_end: r.dateEnd,
            policy_type: r.policyType,
            policy_domain: r.policyDomain,
            success_count: r.successCount,
            failure_count: r.failureCount,
            failures: JSON.stringify(r.failures),
          })
          .onConflict((oc) => oc.columns(['org_name', 'report_id', 'policy_index']).doNothing())
          .executeTakeFirst();
        n += Number(res.numInsertedOrUpdatedRows ?? 0) > 0 ? 1 : 0;
      }
      return n;
    },
    /** TLS-RPT policy rows whose period ends at or after `sinceMs`, optionally for some policy domains. */
    async tlsReports(q: { sinceMs: number; policyDomains?: string[] }): Promise<TlsReportRow[]> {
      let s = db.selectFrom('tls_reports').selectAll().where('date_end', '>=', q.sinceMs);
      if (q.policyDomains) {
        if (!q.policyDomains.length) return [];
        s = s.where('policy_domain', 'in', q.policyDomains);
      }
      return (await s.orderBy('date_begin').orderBy('id').execute()).map(toTls);
    },
    /** Messages of a sending domain per UTC day since `sinceMs` (the platform's own sends). */
    async sendsPerDay(tenantId: string, domain: string, sinceMs: number): Promise<{ day: string; count: number }[]> {
      const rows = await db
        .selectFrom('messages')
        .select(['created_at', 'from_address'])
        .where('tenant_id', '=', tenantId)
        .where('created_at', '>=', sinceMs)
        .where('from_address', 'like', `%@${domain}`)
        .execute();
      const days = new Map<string, number>();
      for (const r of rows) {
        const day = new Date(Number(r.created_at)).toISOString().slice(0, 10);
        days.set(day, (days.get(day) ?? 0) + 1);
      }
      return [...days].sort(([a], [b]) => a.localeCompare(b)).map(([day, count]) => ({ day, count }));
    },
  };
}
