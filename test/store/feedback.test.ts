import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DmarcRecordRow, TlsReportRow } from '../../src/store/index.js';
import { forEachDialect, openStore } from '../support/dialects.js';

/** Report rows are unique per (reporter, report, row): a report received twice counts once. */
forEachDialect(
  'DMARC and TLS-RPT rows insert once, read back by window, and messages are found by Message-ID',
  async (t, dialect) => {
    const store = await openStore(t, dialect);
    await store.tenants.insert({ id: 'ten_A', name: 'A', sandbox: false, maxMessageBytes: null, ratePerMinute: null, createdAt: 1 });
    await store.domains.insert({ id: 'dom_A', tenantId: 'ten_A', name: 'example.com', createdAt: 1 });
    const day = 86_400_000;
    const row = (i: number, begin: number): DmarcRecordRow => ({
      id: `rpt_${i}${begin}`,
      documentId: 'fb_1',
      tenantId: 'ten_A',
      domainId: 'dom_A',
      policyDomain: 'example.com',
      policy: { p: 'reject' },
      orgName: 'Receiver',
      reportId: `r-${begin}`,
      rowIndex: i,
      dateBegin: begin,
      dateEnd: begin + day - 1,
      sourceIp: `192.0.2.${i}`,
      count: 10 + i,
      disposition: 'none',
      dkim: 'pass',
      spf: 'fail',
      headerFrom: 'example.com',
      authResults: { dkim: [{ domain: 'example.com', result: 'pass' }], spf: [] },
      authorized: true,
      authorizedReason: 'dkim-aligned-pass',
    });
    const rows = [row(0, 10 * day), row(1, 10 * day), row(0, 20 * day)];
    assert.equal(await store.feedback.insertDmarcRecords(rows), 3);
    assert.equal(await store.feedback.insertDmarcRecords(rows.map((r) => ({ ...r, id: `${r.id}x` }))), 0, 'resent report');
    const recent = await store.feedback.dmarcRecords('dom_A', 15 * day);
    assert.deepEqual(
      recent.map((r) => [r.sourceIp, r.count, r.authorized, r.policy.p, r.dateBegin]),
      [['192.0.2.0', 10, true, 'reject', 20 * day]],
    );
    assert.deepEqual(recent[0]!.authResults, rows[2]!.authResults);

    const tls: TlsReportRow = {
      id: 'rpt_t1',
      documentId: 'fb_2',
      tenantId: null,
      orgName: 'Sender',
      reportId: 't-1',
      policyIndex: 0,
      dateBegin: 20 * day,
      dateEnd: 21 * day - 1,
      policyType: 'sts',
      policyDomain: 'example.com',
      successCount: 90,
      failureCount: 10,
      failures: [{ resultType: 'certificate-expired', failedSessionCount: 10 }],
    };
    assert.equal(await store.feedback.insertTlsReports([tls]), 1);
    assert.equal(await store.feedback.insertTlsReports([{ ...tls, id: 'rpt_t2' }]), 0);
    assert.deepEqual(
      (await store.feedback.tlsReports({ sinceMs: 0, policyDomains: ['example.com'] })).map((r) => [
        r.successCount,
        r.failures[0]!.resultType,
      ]),
      [[90, 'certificate-expired']],
    );
    assert.deepEqual(await store.feedback.tlsReports({ sinceMs: 0, policyDomains: [] }), []);
    assert.deepEqual(await store.feedback.tlsReports({ sinceMs: 30 * day }), []);
  },
  test,
);

/** A report is claimed once per (reporter, id, domain) and once per content digest, within a scope. */
forEachDialect(
  'a report claim finds the earlier copy by id or by digest, and scopes stay apart',
  async (t, dialect) => {
    const store = await openStore(t, dialect);
    const claim = { kind: 'dmarc-aggregate', scope: '', orgName: 'Receiver', reportId: 'r-1', domain: 'example.com', digest: 'd1' };
    const at = { documentId: 'fb_1', receivedAt: 1 };
    assert.equal(await store.feedback.claimReport({ ...claim, ...at }), undefined, 'first copy');
    assert.equal(await store.feedback.claimReport({ ...claim, digest: 'd2', documentId: 'fb_2', receivedAt: 2 }), 'fb_1', 'same id');
    assert.equal(
      await store.feedback.claimReport({ ...claim, reportId: 'r-2', documentId: 'fb_3', receivedAt: 3 }),
      'fb_1',
      'same content',
    );
    assert.equal(
      await store.feedback.claimReport({ ...claim, domain: 'example.net', digest: 'd3', documentId: 'fb_4', receivedAt: 4 }),
      undefined,
    );
    assert.equal(
      await store.feedback.claimReport({ ...claim, scope: 'ten_A', documentId: 'fb_5', receivedAt: 5 }),
      undefined,
      'another scope',
    );
    // Reports without an id are told apart by content alone.
    const noId = { ...claim, reportId: '', digest: 'd4', documentId: 'fb_6', receivedAt: 6 };
    assert.equal(await store.feedback.claimReport(noId), undefined);
    assert.equal(await store.feedback.claimReport({ ...noId, digest: 'd5', documentId: 'fb_7' }), undefined);
    assert.equal(await store.feedback.claimReport({ ...noId, documentId: 'fb_8' }), 'fb_6');
  },
  test,
);
