import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gzipSync, zipSync } from 'fflate';
import type { PostwardenError } from '../../src/core/index.js';
import { parseDmarcAggregate, parseTlsRpt } from '../../src/feedback/index.js';
import { unpackBudget, unpackPayload } from '../../src/feedback/report-payload.js';
import { bigDmarcReportGz, lyingZip, nestedLyingZip } from './hostile-documents.js';

const minimal = (open = '<feedback>', close = '</feedback>') => `${open}
  <report_metadata><org_name>Rep</org_name><report_id>r1</report_id><date_range><begin>1</begin><end>2</end></date_range></report_metadata>
  <policy_published><domain>example.com</domain><p>none</p></policy_published>
  <record><row><source_ip>192.0.2.1</source_ip><count>5</count><policy_evaluated><disposition>none</disposition><dkim>fail</dkim><spf>pass</spf></policy_evaluated></row>
  <identifiers><header_from>example.com</header_from></identifiers><auth_results><spf><domain>example.com</domain><result>pass</result></spf></auth_results></record>
${close}`;

test('reads a DMARC report whose elements carry a namespace prefix', () => {
  const xml = minimal('<dmarc:feedback xmlns:dmarc="http://dmarc.org/dmarc-xml/0.1">', '</dmarc:feedback>').replace(
    /<(\/?)(report_metadata|org_name|report_id|date_range|begin|end|policy_published|domain|p|record|row|source_ip|count|policy_evaluated|disposition|dkim|spf|identifiers|header_from|auth_results|result)>/g,
    '<$1dmarc:$2>',
  );
  const r = parseDmarcAggregate(xml);
  assert.deepEqual(r.errors, []);
  assert.equal(r.reports[0]!.records[0]!.count, 5);
});

test('reads a DMARC report with a UTF-8 byte order mark and capitalised tags', () => {
  const xml = minimal().replace(/<(\/?)org_name>/g, '<$1ORG_NAME>');
  const bytes = new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode(xml)]);
  const r = parseDmarcAggregate(bytes);
  assert.equal(r.reports[0]!.metadata.orgName, 'Rep');
  assert.ok(r.reports[0]!.warnings.includes('UTF-8 byte order mark'));
});

test('reads every report in a zip and reports the files that are not reports', () => {
  const zip = zipSync({ 'a.xml': new TextEncoder().encode(minimal()), 'readme.txt': new TextEncoder().encode('hello') });
  const r = parseDmarcAggregate(zip, 'bundle.zip');
  assert.equal(r.reports.length, 1);
  assert.deepEqual(
    r.errors.map((e) => e.name),
    ['readme.txt'],
  );
});

test('a corrupt archive or XML that is not a DMARC report is an error, not an exception', () => {
  assert.match(parseDmarcAggregate(new Uint8Array([0x50, 0x4b, 0x03, 0x04, 9, 9, 9])).errors[0]!.error, /cannot unpack/);
  assert.match(parseDmarcAggregate('<html><body>hi</body></html>').errors[0]!.error, /not a DMARC aggregate report/);
});

test('a TLS-RPT report sent with mx-host as a string and counts as strings is normalised', () => {
  const json = JSON.stringify({
    'organization-name': 'R',
    'report-id': 'x',
    'date-range': {},
    policies: [
      {
        policy: { 'policy-type': 'tlsa', 'policy-domain': 'Example.com', 'mx-host': 'mx.example.com' },
        summary: { 'total-successful-session-count': '7', 'total-failure-session-count': 0 },
      },
    ],
  });
  const r = parseTlsRpt(gzipSync(new TextEncoder().encode(json)), 'r.json.gz');
  const p = r.reports[0]!.policies[0]!;
  assert.deepEqual(
    [p.policyType, p.policyDomain, p.mxHost, p.totalSuccessfulSessionCount, p.failureDetails],
    ['tlsa', 'example.com', ['mx.example.com'], 7, []],
  );
  assert.equal(r.reports[0]!.source.container, 'gzip');
});

test('JSON that is not a TLS report is an error', () => {
  assert.match(parseTlsRpt('{"hello": 1}').errors[0]!.error, /not a TLS-RPT report/);
  assert.match(parseTlsRpt('{oops').errors[0]!.error, /invalid JSON/);
});

/** A real gzip member whose ISIZE trailer (RFC 1952 §2.3.1) is replaced by `isize`. */
function gzipClaiming(isize: number, content = 'x'.repeat(100)): Uint8Array {
  const gz = gzipSync(new TextEncoder().encode(content));
  new DataView(gz.buffer, gz.byteOffset, gz.byteLength).setUint32(gz.length - 4, isize, true);
  return gz;
}

test('a gzip whose trailer claims 4 GiB is refused before anything is inflated', () => {
  const before = process.memoryUsage().arrayBuffers;
  const started = performance.now();
  assert.throws(
    () => parseDmarcAggregate(gzipClaiming(0xffffffff), 'bomb.xml.gz'),
    (e: PostwardenError) =>
      e.code === 'CONTENT_LIMIT_EXCEEDED' &&
      /decompressed report too large: gzip data declares 4294967295 bytes.*\(feedback\.maxUnpackedBytes\)/.test(e.message),
  );
  assert.ok(performance.now() - started < 1000);
  assert.ok(process.memoryUsage().arrayBuffers - before < 16 * 1024 * 1024);
});

test('a gzip that inflates to more than its trailer declares is refused', () => {
  assert.throws(() => unpackPayload(gzipClaiming(10)), /gzip data (longer than|does not match) its declared 10 bytes/);
  assert.throws(() => unpackPayload(gzipClaiming(1000)), /gzip data does not match its declared 1000 bytes/);
  // Past the declared size, inflating stops: a trailer claiming 1,000 bytes of a 64 MiB stream.
  const long = gzipClaiming(1000, 'x'.repeat(64 * 1024 * 1024));
  const started = performance.now();
  assert.throws(() => unpackPayload(long), /gzip data longer than its declared 1000 bytes/);
  assert.ok(performance.now() - started < 1000);
});

test('one budget bounds the output of every layer of a nested archive together', () => {
  const inner = gzipSync(new Uint8Array(600));
  const zip = zipSync({ 'a.xml.gz': inner, 'b.xml.gz': inner }, { level: 0 });
  // Each gzip fits the budget alone; the zip entries (stored) plus both gzips together do not.
  assert.equal(unpackPayload(zip, 'r.zip', '', 0, unpackBudget(2000)).length, 2);
  assert.throws(
    () => unpackPayload(zip, 'r.zip', '', 0, unpackBudget(1000)),
    /decompressed report too large: gzip data declares 600 bytes/,
  );
  const nested = gzipSync(zip);
  assert.throws(() => unpackPayload(nested, 'r.zip.gz', '', 0, unpackBudget(1500)), /decompressed report too large/);
});

test('a zip entry that declares more than the budget is refused before it is inflated', () => {
  const zip = zipSync({ 'a.xml': new Uint8Array(5000) });
  assert.throws(() => unpackPayload(zip, 'r.zip', '', 0, unpackBudget(4000)), /zip entry a\.xml declares 5000 bytes/);
});

test('a zip entry that inflates past its declared size is stopped at once, not inflated to the end', () => {
  const bomb = lyingZip(768 * 1024 * 1024);
  const started = performance.now();
  assert.throws(() => unpackPayload(bomb, 'r.zip'), /zip entry report\.xml longer than its declared 1000 bytes/);
  assert.ok(performance.now() - started < 500, `took ${Math.round(performance.now() - started)} ms`);
  // Reported as an unreadable archive, like any other corrupt one.
  assert.match(parseDmarcAggregate(bomb, 'r.zip').errors[0]!.error, /cannot unpack: zip entry report\.xml longer/);
});

test('zips nested ten deep whose entries lie about their size cost next to nothing', () => {
  const bomb = nestedLyingZip(10, 512 * 1024 * 1024);
  const started = performance.now();
  assert.throws(() => unpackPayload(bomb, 'r.zip'), /longer than its declared 1000 bytes/);
  assert.ok(performance.now() - started < 500);
});

test('a DMARC report with more records than the limit is refused whole, naming the setting', () => {
  assert.equal(parseDmarcAggregate(bigDmarcReportGz(10_000), 'r.xml.gz').reports[0]!.records.length, 10_000);
  assert.throws(
    () => parseDmarcAggregate(bigDmarcReportGz(10_001), 'r.xml.gz'),
    (e: PostwardenError) =>
      e.code === 'CONTENT_LIMIT_EXCEEDED' &&
      e.message === 'DMARC report r.xml has more than 10000 records; the limit is 10000 (feedback.maxReportRecords)',
  );
});

test('a TLS report with more policies than the limit is refused', () => {
  const policy = {
    policy: { 'policy-type': 'sts', 'policy-domain': 'example.com' },
    summary: { 'total-successful-session-count': 1, 'total-failure-session-count': 0 },
  };
  const doc = (n: number) =>
    JSON.stringify({ 'organization-name': 'Rep', 'report-id': 'r', 'date-range': {}, policies: Array(n).fill(policy) });
  assert.equal(parseTlsRpt(doc(10_000)).reports[0]!.policies.length, 10_000);
  assert.throws(
    () => parseTlsRpt(doc(10_001)),
    (e: PostwardenError) => e.code === 'CONTENT_LIMIT_EXCEEDED' && /feedback\.maxReportRecords/.test(e.message),
  );
});
