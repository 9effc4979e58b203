import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { type TestContext, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import Schema from 'typebox/schema';
import { utcDayStart } from '../../src/delivery/index.js';
import { parseTlsRpt } from '../../src/feedback/index.js';
import { labCa, startTlsLab } from './tls-lab.js';

/**
 * Done-means 3 of issue 6: the daily TLS-RPT report is built from the attempts the delivery path
 * recorded, validates against the RFC 8460 schema (transcribed in test/fixtures/transport-security),
 * contains the failures this test caused, and reaches both kinds of `rua`: mailto through the
 * platform's own pipeline (to a loopback sink) and https by POST (to a loopback HTTPS server).
 */
const schema = JSON.parse(readFileSync(new URL('../fixtures/transport-security/tlsrpt-report.schema.json', import.meta.url), 'utf8'));
const validator = Schema.Compile(schema);

function assertValid(report: unknown, what: string): void {
  const [ok, errors] = validator.Errors(report);
  assert.ok(ok, `${what} validates against RFC 8460: ${JSON.stringify(errors)}`);
}

async function startReportEndpoint(t: TestContext) {
  const received: { method: string; url: string; contentType: string | undefined; body: Buffer }[] = [];
  const server = https.createServer(labCa.issue({ hostnames: ['tlsrpt.reports.test'] }), (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({
        method: req.method ?? '',
        url: req.url ?? '',
        contentType: req.headers['content-type'],
        body: Buffer.concat(chunks),
      });
      res.writeHead(201).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { port: (server.address() as AddressInfo).port, received };
}

const RUA = 'v=TLSRPTv1; rua=mailto:tlsrpt@reports.test,https://tlsrpt.reports.test/v1/report';

test('the daily TLS-RPT report holds the injected failures, validates, and goes to mailto and https rua', {
  timeout: 60_000,
}, async (t) => {
  const endpoint = await startReportEndpoint(t);
  const lab = await startTlsLab(
    t,
    {
      // Testing mode: delivered, but the untrusted certificate is a would-be failure to report.
      'rpt.test': { sink: 'self-signed', mtaSts: { mode: 'testing' } },
      // Enforce mode: refused, deferred, reported.
      'rpt-strict.test': { sink: 'self-signed', mtaSts: { mode: 'enforce' } },
      // Success only, and no TLS-RPT record: no report.
      'rpt-ok.test': { sink: 'ca', mtaSts: { mode: 'enforce' } },
      'reports.test': { sink: 'none' },
    },
    {
      extraZone: { '_smtp._tls.rpt.test': { TXT: [RUA] }, '_smtp._tls.rpt-strict.test': { TXT: [RUA] } },
      config: {
        transportSecurity: {
          httpsPortMap: { 'tlsrpt.reports.test': endpoint.port },
          tlsRpt: { from: 'tls-rpt@example.com', organizationName: 'Postwarden test', contactInfo: 'tls@example.com' },
        },
      },
    },
  );
  // Mailto reports are sent as a tenant; the lab's tenant exists only once the platform runs.
  lab.p.config.transportSecurity.tlsRpt.tenantId = lab.p.tenantId;

  for (const to of ['a@rpt.test', 'b@rpt.test', 'c@rpt-strict.test', 'd@rpt-ok.test']) await lab.outcome(await lab.send(to));
  const store = lab.p.platform.store;

  const sent = await lab.p.platform.transportSecurity.reporter.runDay(utcDayStart(Date.now()));
  assert.deepEqual(sent.map((s) => s.policyDomain).sort(), ['rpt-strict.test', 'rpt.test'], 'reports for domains with a TLS-RPT record');

  for (const s of sent) {
    assertValid(s.report, `report for ${s.policyDomain}`);
    assert.deepEqual(
      s.destinations.map((d) => [d.uri, d.ok]),
      [
        ['mailto:tlsrpt@reports.test', true],
        ['https://tlsrpt.reports.test/v1/report', true],
      ],
    );
  }
  const byDomain = new Map(sent.map((s) => [s.policyDomain, s.report as any]));
  const testing = byDomain.get('rpt.test');
  assert.equal(testing['organization-name'], 'Postwarden test');
  assert.equal(testing['contact-info'], 'tls@example.com');
  const [tp] = testing.policies;
  assert.equal(tp.policy['policy-type'], 'sts');
  assert.ok(tp.policy['policy-string'].includes('mode: testing'));
  assert.deepEqual(tp.policy['mx-host'], ['mx.rpt.test']);
  const [tf] = tp['failure-details'];
  assert.equal(tf['result-type'], 'certificate-not-trusted', 'the would-be failure of testing mode');
  assert.equal(tf['receiving-mx-hostname'], 'mx.rpt.test');
  assert.equal(tf['receiving-ip'], '127.0.0.1');
  // Sessions, not recipients: two messages may share one pooled connection.
  const rptRows = (
    await Promise.all(
      (
        await store.events.page({ limit: 1000 })
      )
        .filter((e) => e.recipientId && String(e.data.email).endsWith('@rpt.test'))
        .map((e) => store.tlsAttempts.listForRecipient(e.recipientId!)),
    )
  ).flat();
  const sessions = new Set(rptRows.map((r) => r.sessionId)).size;
  assert.equal(tf['failed-session-count'], sessions);
  assert.equal(tp.summary['total-failure-session-count'], sessions);
  assert.equal(tp.summary['total-successful-session-count'], 0);

  const strict = byDomain.get('rpt-strict.test');
  const [sp] = strict.policies;
  assert.ok(sp.policy['policy-string'].includes('mode: enforce'));
  assert.equal(sp['failure-details'][0]['result-type'], 'certificate-not-trusted');
  assert.equal(sp.summary['total-failure-session-count'], 1);

  // https: POSTed gzip, the same document.
  assert.equal(endpoint.received.length, 2);
  for (const r of endpoint.received) {
    assert.equal(r.method, 'POST');
    assert.equal(r.url, '/v1/report');
    assert.equal(r.contentType, 'application/tlsrpt+gzip');
    const doc = JSON.parse(gunzipSync(r.body).toString('utf8'));
    assertValid(doc, 'the POSTed report');
    assert.deepEqual(doc, byDomain.get(doc.policies[0].policy['policy-domain']));
  }

  // mailto: accepted into the pipeline, delivered by it to reports.test's MX.
  const mails = await lab.sinks.get('reports.test')!.waitFor(2, 10_000);
  for (const m of mails) {
    assert.deepEqual(m.to, ['tlsrpt@reports.test']);
    const raw = m.raw.toString('latin1');
    assert.match(
      raw,
      /^Subject: Report Domain: (rpt|rpt-strict)\.test Submitter: pw\.test Report-ID: <[^>]+>\r?$/m,
      'RFC 8460 §5.3 subject',
    );
    assert.match(raw, /^Content-Type: multipart\/report; report-type="tlsrpt"/m);
    assert.match(raw, /^TLS-Report-Domain: (rpt|rpt-strict)\.test\r?$/m);
    assert.match(raw, /^DKIM-Signature:/m, 'signed by the pipeline (RFC 8460 §5.3)');
    const part = /Content-Type: application\/tlsrpt\+gzip; name="([^"]+)"[\s\S]*?\r\n\r\n([A-Za-z0-9+/=\r\n]+?)\r\n--/.exec(raw);
    assert.ok(part, 'an application/tlsrpt+gzip attachment');
    assert.match(part[1]!, /^pw\.test!(rpt|rpt-strict)\.test!\d+!\d+\.json\.gz$/, 'RFC 8460 §5.1 file name');
    const gz = Buffer.from(part[2]!.replace(/\s+/g, ''), 'base64');
    const doc = JSON.parse(gunzipSync(gz).toString('utf8'));
    assertValid(doc, 'the mailed report');
    // The inbound parser of the feedback concern reads what the sending side wrote.
    const parsed = parseTlsRpt(gz, part[1]!);
    assert.deepEqual(parsed.errors, []);
    assert.equal(parsed.reports[0]?.reportId, doc['report-id']);
  }

  // Once per domain and day.
  assert.deepEqual(await lab.p.platform.transportSecurity.reporter.runDay(utcDayStart(Date.now())), []);
});

test('a report is rejected by the schema when a required member is missing (the schema can fail)', () => {
  const [ok] = validator.Errors({ 'organization-name': 'x', 'date-range': {}, policies: [] });
  assert.equal(ok, false);
});
