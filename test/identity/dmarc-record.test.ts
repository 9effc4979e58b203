import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatDmarcRecord, isDmarcRecord, parseDmarcRecord } from '../../src/identity/index.js';

const parsed = (text: string) => {
  const r = parseDmarcRecord(text);
  assert.ok(r.ok, `not parsed: ${JSON.stringify(r.issues)}`);
  return r;
};

test('parses the RFC 7489 Appendix B.2 example with two rua destinations and a size limit', () => {
  const { record, issues } = parsed(
    'v=DMARC1; p=quarantine; rua=mailto:dmarc-feedback@example.com,mailto:tld-test@thirdparty.example.net!10m; pct=25',
  );
  assert.equal(record.p, 'quarantine');
  assert.deepEqual(
    record.rua.map((u) => [u.address, u.domain, u.maxSize]),
    [
      ['dmarc-feedback@example.com', 'example.com', undefined],
      ['tld-test@thirdparty.example.net', 'thirdparty.example.net', '10m'],
    ],
  );
  assert.equal(record.pct, 25);
  assert.deepEqual(
    issues.map((i) => [i.tag, i.severity]),
    [['pct', 'removed']],
  );
  assert.equal(
    issues[0]!.position,
    'v=DMARC1; p=quarantine; rua=mailto:dmarc-feedback@example.com,mailto:tld-test@thirdparty.example.net!10m; '.length,
  );
});

test('applies the RFC 7489 defaults: relaxed alignment, fo=0, no sp', () => {
  const { record } = parsed('v=DMARC1; p=none');
  assert.deepEqual([record.adkim, record.aspf, record.fo, record.sp, record.psd, record.testing], ['r', 'r', ['0'], undefined, 'u', false]);
});

test('reads the DMARCbis tags np, psd and t', () => {
  const { record, issues } = parsed('v=DMARC1; p=reject; sp=quarantine; np=reject; psd=n; t=y');
  assert.deepEqual([record.np, record.psd, record.testing, record.sp], ['reject', 'n', true, 'quarantine']);
  assert.deepEqual(issues, []);
});

test('marks pct, rf and ri as removed in DMARCbis but keeps their values', () => {
  const { record, issues } = parsed('v=DMARC1; p=reject; pct=0; rf=afrf; ri=3600');
  assert.deepEqual([record.pct, record.rf, record.ri], [0, ['afrf'], 3600]);
  assert.deepEqual(
    issues.map((i) => i.tag),
    ['pct', 'rf', 'ri'],
  );
  assert.ok(issues.every((i) => i.severity === 'removed'));
  assert.match(issues[0]!.message, /t=y/);
});

test('is not a DMARC record unless v=DMARC1 comes first, exactly', () => {
  for (const text of ['p=none; v=DMARC1', 'v=dmarc1; p=none', 'v=DMARC10; p=none', 'v=spf1 -all']) {
    assert.equal(isDmarcRecord(text), false, text);
    assert.equal(parseDmarcRecord(text).ok, false, text);
  }
  assert.equal(isDmarcRecord('v = DMARC1 ;p=none'), true);
});

test('reports a bad value with the offset of its tag and falls back to the default', () => {
  const { record, issues } = parsed('v=DMARC1; p=reject; adkim=x; sp=block');
  assert.equal(record.adkim, 'r');
  assert.equal(record.sp, undefined);
  assert.deepEqual(
    issues.map((i) => [i.tag, i.position, i.severity]),
    [
      ['adkim', 20, 'error'],
      ['sp', 29, 'error'],
    ],
  );
});

test('a missing or invalid p is reported and treated as none', () => {
  const missing = parsed('v=DMARC1; rua=mailto:d@example.com');
  assert.equal(missing.record.effectivePolicy, 'none');
  assert.ok(missing.issues.some((i) => i.tag === 'p' && i.severity === 'error'));
  const invalid = parsed('v=DMARC1; p=block');
  assert.equal(invalid.record.effectivePolicy, 'none');
});

test('reports duplicate tags, unknown tags and malformed pairs', () => {
  const { record, issues } = parsed('v=DMARC1; p=reject; p=none; foo=bar; garbage');
  assert.equal(record.p, 'reject');
  assert.deepEqual(
    issues.map((i) => i.severity),
    ['error', 'error', 'warning'],
  );
  assert.match(issues[0]!.message, /more than once/);
});

test('reports report URIs that are not valid', () => {
  const { record, issues } = parsed('v=DMARC1; p=none; rua=mailto:nobody, https://reports.example.com/dmarc');
  assert.equal(record.rua.length, 1);
  assert.deepEqual(
    issues.map((i) => i.severity),
    ['error', 'warning'],
  );
});

test('formats proposed records with v first and the tags in the usual order', () => {
  assert.equal(
    formatDmarcRecord({ rua: 'mailto:d@example.com', t: 'y', p: 'quarantine' }),
    'v=DMARC1; p=quarantine; t=y; rua=mailto:d@example.com',
  );
});
