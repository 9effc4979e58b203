import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { readSuppressionImport } from '../../src/feedback/index.js';

/** The suppression exports of Postmark, Resend and SES (test/fixtures/suppression/README.md) read as our entries. */
const fixture = (name: string) => readFileSync(join(import.meta.dirname, '..', 'fixtures', 'suppression', name), 'utf8');
const brief = (entries: { address?: unknown; reason?: unknown; created_at?: unknown }[]) =>
  entries.map((e) => [e.address, e.reason, Date.parse(String(e.created_at))]);

const postmark = [
  ['hard@example.net', 'hard_bounce', Date.parse('2026-03-02T13:58:33Z')],
  ['spam@example.net', 'complaint', Date.parse('2026-03-03T15:11:12Z')],
  ['left@example.net', 'unsubscribe', Date.parse('2026-03-04T16:00:00Z')],
  ['ops@example.net', 'manual', Date.parse('2026-03-05T17:00:00Z')],
];
const resend = [
  ['hand@example.net', 'manual', Date.parse('2026-10-06T23:47:56.678Z')],
  ['gone@example.net', 'hard_bounce', Date.parse('2026-10-07T08:12:03.412Z')],
  ['angry@example.net', 'complaint', Date.parse('2026-10-08T09:00:00.000Z')],
];
const ses = [
  ['bounced@example.net', 'hard_bounce', Date.parse('2026-05-14T15:02:45.123Z')],
  ['complained@example.net', 'complaint', Date.parse('2026-05-15T09:30:00.000Z')],
];

for (const [format, file, expected] of [
  ['postmark', 'postmark-dump.json', postmark],
  ['postmark', 'postmark.csv', postmark],
  ['resend', 'resend-suppressions.json', resend],
  ['resend', 'resend.csv', resend],
  ['ses', 'ses-list-suppressed-destinations.json', ses],
  ['ses', 'ses.csv', ses],
] as const) {
  test(`reads ${file} as --format ${format}, reasons mapped to ours`, () => {
    const r = readSuppressionImport(fixture(file), format);
    assert.deepEqual(r.errors, []);
    assert.deepEqual(brief(r.entries), expected);
    assert.ok(r.entries.every((e) => e.source === `${format} export`));
  });
}

test('a parsed JSON body (the API) reads like the file text', () => {
  const r = readSuppressionImport(JSON.parse(fixture('ses-list-suppressed-destinations.json')), 'ses');
  assert.deepEqual(brief(r.entries), ses);
  assert.equal(r.pathOf(1), '/SuppressedDestinationSummaries/1');
});

test('a reason Postwarden cannot map, or a missing address, is refused with its path rather than guessed', () => {
  const r = readSuppressionImport('EmailAddress,Reason\nx@example.net,OOTO\n,BOUNCE\n', 'ses');
  assert.deepEqual(r.errors, [
    { path: '/rows/1/Reason', message: '"OOTO" is not a ses reason Postwarden maps' },
    { path: '/rows/2/EmailAddress', message: 'is required (the address; ses exports name it emailaddress)' },
  ]);
  const json = readSuppressionImport({ Suppressions: [{ EmailAddress: 'x@example.net', SuppressionReason: 'Vacation' }] }, 'postmark');
  assert.deepEqual(
    json.errors.map((e) => e.path),
    ['/Suppressions/0/SuppressionReason'],
  );
  assert.deepEqual(readSuppressionImport({ entries: [] }, 'resend').errors, [{ path: '/data', message: 'must be a list of entries' }]);
});

test('our own formats read as before: CSV with a header line, JSON {entries} or a list', () => {
  const csv = readSuppressionImport('address,reason\r\na@example.net,manual\r\n', 'csv');
  assert.deepEqual(csv.entries, [{ address: 'a@example.net', reason: 'manual' }]);
  assert.equal(csv.pathOf(0), '/rows/1');
  assert.deepEqual(readSuppressionImport('[{"address":"b@example.net"}]', 'json').entries, [{ address: 'b@example.net' }]);
  assert.deepEqual(readSuppressionImport({ entries: [{ address: 'c@example.net' }] }, 'json').entries, [{ address: 'c@example.net' }]);
});
