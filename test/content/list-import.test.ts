import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DialectName } from '../../src/store/index.js';
import { fakeClock } from '../support/clock.js';
import { forEachDialect } from '../support/dialects.js';
import { startDnsServer, type Zone } from '../support/dns-server.js';
import { startPlatform, type TestPlatform } from '../support/platform.js';

/**
 * List import hygiene against a loopback DNS server: each finding kind from a row that trips it,
 * beside rows that do not, through POST /v1/lists/{id}/import with a CSV body.
 */
const zone: Zone = {
  'good.example': { MX: [{ priority: 10, exchange: 'mx.good.example' }] },
  'mx.good.example': { A: ['192.0.2.10'] },
  'nullmx.example': { MX: [{ priority: 0, exchange: '.' }] },
  'implicit.example': { A: ['192.0.2.20'] },
  'mailinator.com': { MX: [{ priority: 10, exchange: 'mx.good.example' }] },
  'gmial.com': { MX: [{ priority: 10, exchange: 'mx.good.example' }] },
};

async function world(t: Parameters<typeof startPlatform>[0], dialect: DialectName = 'sqlite', clock = fakeClock()) {
  const dns = await startDnsServer(t, zone);
  const p = await startPlatform(t, { clock, dialect, config: { dns: { servers: [dns.address], timeoutMs: 1000 } } });
  const list = await p.request('POST', '/v1/lists', { name: 'Newsletter' });
  assert.equal(list.status, 201, JSON.stringify(list.body));
  return { p, dns, listId: list.body.id as string, clock };
}

const importCsv = (p: TestPlatform, listId: string, csv: string) =>
  p.request('POST', `/v1/lists/${listId}/import`, csv, { 'content-type': 'text/csv' });

forEachDialect(
  'an import reports each finding kind on the row that trips it, and adds only the rows without errors',
  async (t, dialect) => {
    const { p, dns, listId } = await world(t, dialect);
    const sup = await p.request('POST', '/v1/suppressions', { address: 'gone@good.example', reason: 'complaint' });
    assert.equal(sup.status, 201, JSON.stringify(sup.body));
    const csv = [
      'First Name,Email Address,City',
      'Ann,ann@good.example,Paris', // 1 clean
      'Bob,not-an-address,Lyon', // 2 malformed
      'Ann again,ANN@good.example,Paris', // 3 duplicate of row 1
      'Info,info@good.example,', // 4 role account
      'Tmp,someone@mailinator.com,', // 5 disposable
      'Null,ann@nullmx.example,', // 6 Null MX
      'Impl,ann@implicit.example,', // 7 no MX, implicit A
      'Gone,ann@missing.example,', // 8 NXDOMAIN
      'Trap,spamtrap@good.example,', // 9 trap keyword
      'Typo,ann@gmial.com,', // 10 typo domain
      'Sup,gone@good.example,', // 11 suppressed
      '"Quoted, Name",cy@good.example,"Saint-Denis, FR"', // 12 clean, quoted fields
    ].join('\r\n');
    const r = await importCsv(p, listId, csv);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const byRow = new Map<number, string[]>(
      r.body.findings.map((f: any) => [f.row, f.findings.map((x: any) => `${x.kind}:${x.severity}`)]),
    );
    assert.deepEqual(Object.fromEntries(byRow), {
      2: ['malformed:error'],
      3: ['duplicate:error'],
      4: ['role_account:warning'],
      5: ['disposable_domain:warning'],
      6: ['null_mx:error'],
      7: ['no_mx:warning'],
      8: ['no_mx:error'],
      9: ['trap_pattern:error'],
      10: ['trap_pattern:error'],
      11: ['suppressed:warning'],
    });
    const suppressed = r.body.findings.find((f: any) => f.row === 11).findings[0];
    assert.equal(suppressed.detail.entries[0].reason, 'complaint', 'says why it is suppressed');
    assert.equal(suppressed.detail.entries[0].scope, 'tenant');
    assert.equal(r.body.import.rows, 12);
    assert.equal(r.body.import.added, 6, 'rows 1, 4, 5, 7, 11 and 12');
    assert.deepEqual(r.body.import.counts, {
      malformed: 1,
      duplicate: 1,
      role_account: 1,
      disposable_domain: 1,
      null_mx: 1,
      no_mx: 2,
      trap_pattern: 2,
      suppressed: 1,
    });
    const list = await p.request('GET', `/v1/lists/${listId}`);
    assert.equal(list.body.members, 6);
    const mxQueries = dns.queries.filter((q) => q.type === 'MX' && q.name.replace(/\.$/, '') === 'good.example');
    assert.equal(mxQueries.length, 1, 'one MX lookup per domain per import (cached)');

    // A second import of the same address finds it on the list already.
    const again = await importCsv(p, listId, 'email\nann@good.example\n');
    assert.deepEqual(
      again.body.findings[0].findings.map((x: any) => x.kind),
      ['duplicate'],
    );
    assert.match(again.body.findings[0].findings[0].message, /already on the list/);
  },
  test,
);

test('common ESP column names are recognised, and a file without one is refused naming row 0', async (t) => {
  const { p, listId } = await world(t);
  for (const column of ['email', 'Email', 'Email Address', 'EMAIL', 'E-mail', 'email_address']) {
    const r = await importCsv(p, listId, `Name,${column}\nX,x.${column.length}@good.example\n`);
    assert.equal(r.status, 200, `${column}: ${JSON.stringify(r.body)}`);
  }
  const withCharset = await p.request('POST', `/v1/lists/${listId}/import`, '\uFEFFE-Mail Address\r\nzoe@good.example\r\n', {
    'content-type': 'text/csv; charset=utf-8',
  });
  assert.equal(withCharset.status, 200, 'a charset parameter and a byte-order mark are fine');
  assert.equal(withCharset.body.import.added, 1);
  const none = await importCsv(p, listId, 'name,phone\nAnn,123\n');
  assert.equal(none.status, 422);
  assert.equal(none.body.errors[0].path, '/rows/0');
  const json = await p.request('POST', `/v1/lists/${listId}/import`, { rows: [] });
  assert.equal(json.status, 415);
});

test('findings page past the first answer', async (t) => {
  const { p, listId } = await world(t);
  const rows = Array.from({ length: 150 }, (_, i) => `info${i % 2 ? '' : '+x'}@good.example`);
  const r = await importCsv(p, listId, `email\n${rows.join('\n')}\n`);
  assert.equal(r.body.findings.length, 100);
  assert.equal(r.body.next_after_row, 100);
  const next = await p.request('GET', `/v1/lists/${listId}/imports/${r.body.import.id}/findings?after_row=100&limit=100`);
  assert.equal(next.status, 200, JSON.stringify(next.body));
  assert.equal(next.body.data.length, 50);
  assert.equal(next.body.data[0].row, 101);
  assert.equal(next.body.next_after_row, null);
});

forEachDialect(
  'the first sends to a new import are drip-fed: past the batch size a send is refused until the next window',
  async (t, dialect) => {
    const clock = fakeClock();
    const dns = await startDnsServer(t, zone);
    const p = await startPlatform(t, {
      clock,
      dialect,
      config: {
        dns: { servers: [dns.address], timeoutMs: 1000 },
        lists: { dripBatchSize: 3, dripIntervalMinutes: 60, dripPhaseHours: 24 },
      },
    });
    const listId = (await p.request('POST', '/v1/lists', { name: 'New' })).body.id;
    await importCsv(p, listId, 'email\na@good.example\nb@good.example\nc@good.example\nd@good.example\n');
    const send = (to: string) =>
      p.request('POST', '/v1/messages', { from: 'news@example.com', to, subject: 'Hi', text: 'Hi', stream: 'marketing', list_id: listId });
    for (const to of ['a@good.example', 'b@good.example', 'c@good.example']) assert.equal((await send(to)).status, 202);
    const refused = await send('d@good.example');
    assert.equal(refused.status, 429, JSON.stringify(refused.body));
    assert.equal(refused.body.code, 'RATE_LIMITED');
    assert.ok(Number(refused.headers.get('retry-after')) > 0);
    assert.equal(refused.body.list_id, listId);
    const other = await p.request('POST', '/v1/messages', { from: 'news@example.com', to: 'd@good.example', subject: 'Hi', text: 'Hi' });
    assert.equal(other.status, 202, 'sends not naming the list are not held back');

    clock.advance(60 * 60_000);
    assert.equal((await send('d@good.example')).status, 202, 'the next window has room again');
    clock.advance(24 * 3_600_000);
    for (let i = 0; i < 5; i++) assert.equal((await send(`z${i}@good.example`)).status, 202, 'after the drip phase no cap applies');
  },
  test,
);
