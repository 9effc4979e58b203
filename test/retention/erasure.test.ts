import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { openSqlite } from '../../src/store/index.js';
import { sendAndDeliver } from '../feedback/documents.js';
import { startPlatform } from '../support/platform.js';

/**
 * Issue #18, Done 4: the erasure receipt matches what a scan of the database shows, and the erased
 * address is still refused as suppressed. Encryption is off here so that a scan of the SQLite file
 * (every text and blob column of every table, then the raw bytes of the file and its WAL) sees
 * every place the address is stored; with encryption on the same code opens and re-seals values.
 */
type Scan = Record<string, number>;

function scan(file: string, needle: string): Scan {
  const db = openSqlite(file);
  try {
    const out: Scan = {};
    const tables = db.prepare(`select name from sqlite_master where type = 'table' and name not like 'sqlite_%'`).all([]) as {
      name: string;
    }[];
    for (const { name } of tables) {
      const cols = db.prepare(`select name, type from pragma_table_info(?)`).all([name]) as { name: string; type: string }[];
      const hay = cols.filter((c) => !/int|real|num/i.test(c.type)).map((c) => `coalesce(lower(cast("${c.name}" as text)), '')`);
      if (!hay.length) continue;
      const where = hay.map((h) => `instr(${h}, ?) > 0`).join(' or ');
      const [r] = db.prepare(`select count(*) as n from "${name}" where ${where}`).all(hay.map(() => needle)) as { n: number }[];
      if (r?.n) out[name] = Number(r.n);
    }
    return out;
  } finally {
    db.close();
  }
}

function checkpoint(file: string) {
  const db = openSqlite(file);
  db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
  db.close();
}

test('the erasure receipt matches a scan of the database; the address stays refused as suppressed', async (t) => {
  const p = await startPlatform(t, { config: { encryption: { enabled: false } } });
  const file = join(p.config.dataDir, 'postwarden.db');
  const ann = `ann-${randomBytes(4).toString('hex')}@example.net`;
  const first = await sendAndDeliver(p, [ann, 'bob@example.org']);
  const again = await p.request(
    'POST',
    '/v1/messages',
    {
      from: 'news@example.com',
      to: ann,
      subject: `Your invoice, ${ann}`,
      text: `Dear ${ann}, here it is.`,
    },
    { 'idempotency-key': 'erasure-test-1' },
  );
  assert.equal(again.status, 202);
  for (let i = 0; i < 200; i++) {
    const view = (await p.request('GET', `/v1/messages/${again.body.id}`)).body;
    if (view.state === 'completed') break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const before = scan(file, ann);
  t.diagnostic(`before: ${JSON.stringify(before)}`);
  assert.ok(before.recipients && before.message_bodies && before.events, 'the address is stored in several tables');

  const res = await p.request('POST', '/v1/erasures', { address: ann.toUpperCase() });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  const receipt = res.body;
  t.diagnostic(`receipt: ${JSON.stringify(receipt)}`);
  assert.equal(receipt.state, 'completed');
  assert.equal(JSON.stringify(receipt).toLowerCase().includes(ann), false, 'the receipt itself names no address');

  // What the receipt says was erased is exactly where the scan found the address, row for row.
  const erased = Object.fromEntries(receipt.erased.map((e: { table: string; rows: number }) => [e.table, e.rows]));
  const kept = Object.fromEntries(receipt.kept.map((e: { table: string; rows: number }) => [e.table, e.rows]));
  for (const [table, rows] of Object.entries(before))
    assert.equal((erased[table] ?? 0) + (kept[table] ?? 0), rows, `${table}: ${rows} rows held it`);
  for (const table of Object.keys(erased)) assert.ok(before[table], `${table} is in the receipt but held no address`);
  assert.deepEqual(scan(file, ann), kept, 'after: only what the receipt says was kept');
  checkpoint(file);
  for (const f of [file, `${file}-wal`]) {
    let bytes: Buffer;
    try {
      bytes = readFileSync(f);
    } catch {
      continue;
    }
    assert.equal(bytes.indexOf(Buffer.from(ann)), -1, `${f} still holds the address`);
  }

  // Metadata stays: the other recipient, the fingerprint, the reason.
  const view = (await p.request('GET', `/v1/messages/${first.id}`)).body;
  assert.deepEqual(view.recipients.map((r: { email: string }) => r.email).sort(), ['[erased]', 'bob@example.org']);
  const kept1 = await p.platform.store.retention.messageRetention(first.id);
  assert.equal(kept1?.body_purge_reason, 'erasure');
  assert.match(kept1?.body_sha256 ?? '', /^[0-9a-f]{64}$/);
  assert.equal((await p.request('GET', `/v1/erasures/${receipt.id}`)).body.id, receipt.id);

  // Still refused as suppressed, in any case of the address.
  const refused = await p.request('POST', '/v1/messages', {
    from: 'news@example.com',
    to: ann.toUpperCase(),
    subject: 'Hello again',
    text: 'Hi',
  });
  assert.equal(refused.status, 202, JSON.stringify(refused.body));
  assert.equal(refused.body.recipients[0].state, 'suppressed', JSON.stringify(refused.body));
  const check = await p.request('GET', `/v1/suppressions/check?address=${encodeURIComponent(ann)}`);
  assert.equal(check.status, 200);
  t.diagnostic(`check: ${JSON.stringify(check.body)}`);
  // The erasure is in the audit log, without the address.
  const entries = await p.platform.store.audit.page({ chain: p.tenantId, action: 'erasure.completed', limit: 10 });
  assert.equal(entries.length, 1);
  assert.equal((entries[0]!.afterJson ?? '').includes(ann), false);
});
