import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import type { EventType } from '../../src/core/index.js';
import { csvField, exportColumns } from '../../src/events/index.js';
import { exampleEvent } from '../support/events.js';
import { startPlatform, type TestPlatform } from '../support/platform.js';

/** Exactly the seeded events: the reputation ledger would answer seeded bounces with reputation.changed. */
const quiet = { config: { reputation: { enabled: false } } };

/** GET /v1/events/export: NDJSON and CSV, one row per event, filters, RFC 4180 quoting. */

/** An RFC 4180 reader, written for the test: quoted fields, doubled quotes, CRLF records. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i++;
    } else field += c;
  }
  assert.equal(field + row.join(''), '', 'the CSV ends with CRLF');
  return rows;
}

const day = Date.UTC(2026, 11, 1);
const hour = 3_600_000;

/** 2,500 events of the tenant over three hours (more than two export pages), and one of another tenant. */
async function seed(p: TestPlatform): Promise<void> {
  const store = p.platform.store;
  const types: EventType[] = ['message.accepted', 'recipient.delivered', 'recipient.bounced'];
  for (let h = 0; h < 3; h++) {
    const events = Array.from({ length: h === 2 ? 500 : 1000 }, (_, i) =>
      exampleEvent(types[i % 3]!, { tenantId: p.tenantId, messageId: `msg_${h}_${i}` }, { n: i }),
    );
    await store.events.append(events, day + h * hour);
  }
  await store.tenants.insert({ id: 'ten_other', name: 'other', sandbox: false, maxMessageBytes: null, ratePerMinute: null, createdAt: 1 });
  await store.events.append([exampleEvent('message.accepted', { tenantId: 'ten_other', messageId: 'msg_other' })], day);
}

async function get(p: TestPlatform, query: string) {
  const res = await fetch(`${p.url}/v1/events/export?${query}`, { headers: { authorization: `Bearer ${p.key}` } });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

test('NDJSON: one object per event in cursor order, the documented columns, the announced count', { timeout: 60_000 }, async (t) => {
  const p = await startPlatform(t, quiet);
  await seed(p);
  const res = await get(p, 'format=ndjson');
  assert.equal(res.status, 200, res.text);
  assert.match(res.headers.get('content-type') ?? '', /^application\/x-ndjson/);
  const lines = res.text
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.equal(lines.length, 2500);
  assert.equal(res.headers.get('postwarden-event-count'), '2500');
  assert.deepEqual(Object.keys(lines[0]), [...exportColumns]);
  assert.ok(
    lines.every((l) => l.tenant_id === p.tenantId),
    'only the key holder tenant',
  );
  const spine = await p.platform.store.events.page({ tenantId: p.tenantId, limit: 10_000 });
  assert.deepEqual(
    lines.map((l) => [l.event_id, l.cursor, l.type, l.occurred_at, l.message_id, l.seq, l.data.n]),
    spine.map((e) => [e.id, Number(e.cursor), e.type, e.at, e.messageId, e.seq, e.data.n]),
  );
  assert.equal(res.headers.get('postwarden-last-cursor'), String(await p.platform.store.events.lastCursor()));
});

test('from, to and types select the rows; a bad type or time is a 422 with its path', { timeout: 60_000 }, async (t) => {
  const p = await startPlatform(t, quiet);
  await seed(p);
  const from = new Date(day + hour).toISOString();
  const to = new Date(day + 2 * hour).toISOString();
  const res = await get(p, `from=${from}&to=${to}&types=recipient.bounced,message.accepted`);
  assert.equal(res.status, 200, res.text);
  const rows = res.text
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.equal(rows.length, 667);
  assert.ok(rows.every((r) => r.occurred_at === from && r.type !== 'recipient.delivered'));
  assert.equal(res.headers.get('postwarden-event-count'), '667');

  const empty = await get(p, `from=${new Date(day + 5 * hour).toISOString()}`);
  assert.equal(empty.status, 200);
  assert.equal(empty.text, '');
  assert.equal(empty.headers.get('postwarden-event-count'), '0');

  const bad = await get(p, 'types=recipient.exploded&from=yesterday');
  assert.equal(bad.status, 422);
  assert.deepEqual(
    JSON.parse(bad.text)
      .errors.map((e: { path: string }) => e.path)
      .sort(),
    ['/query/from', '/query/types'],
  );
  assert.equal((await get(p, 'format=xml')).status, 422);
  const anonymous = await fetch(`${p.url}/v1/events/export`);
  assert.equal(anonymous.status, 401);
});

test('CSV: a header line, one record per event, data as quoted JSON that reads back', { timeout: 60_000 }, async (t) => {
  const p = await startPlatform(t, quiet);
  await p.platform.store.events.append(
    [
      exampleEvent('recipient.failed', { tenantId: p.tenantId, messageId: 'msg_q' }, { reason: 'policy says "no", twice,\r\nthen\nstop' }),
      exampleEvent('dns.alert', { tenantId: p.tenantId }),
    ],
    day,
  );
  const res = await get(p, 'format=csv');
  assert.equal(res.status, 200, res.text);
  assert.match(res.headers.get('content-type') ?? '', /^text\/csv/);
  const rows = parseCsv(res.text);
  assert.deepEqual(rows[0], [...exportColumns]);
  assert.equal(rows.length, 3);
  const failed = Object.fromEntries(exportColumns.map((c, i) => [c, rows[1]![i]]));
  assert.equal(failed.type, 'recipient.failed');
  assert.equal(JSON.parse(failed.data!).reason, 'policy says "no", twice,\r\nthen\nstop');
  const alert = Object.fromEntries(exportColumns.map((c, i) => [c, rows[2]![i]]));
  assert.equal(alert.message_id, '', 'null is an empty field');
  assert.equal(alert.seq, '0');
});

test('CSV fields with commas, quotes, CR or LF are quoted and their quotes doubled (RFC 4180 §2)', () => {
  const cases: [unknown, string][] = [
    ['plain', 'plain'],
    ['a,b', '"a,b"'],
    ['say "hi"', '"say ""hi"""'],
    ['two\nlines', '"two\nlines"'],
    ['cr\rhere', '"cr\rhere"'],
    [null, ''],
    [42, '42'],
    [{ k: 'v,w' }, '"{""k"":""v,w""}"'],
  ];
  for (const [value, expected] of cases) assert.equal(csvField(value), expected, String(value));
  const row = cases.map(([v]) => csvField(v)).join(',');
  assert.deepEqual(parseCsv(`${row}\r\n`)[0], ['plain', 'a,b', 'say "hi"', 'two\nlines', 'cr\rhere', '', '42', '{"k":"v,w"}']);
});

test('OpenAPI documents the export and the schema routes with their statuses and media types, and stays valid', async (t) => {
  const p = await startPlatform(t, quiet);
  const doc = (await fetch(`${p.url}/openapi.json`).then((r) => r.json())) as any;
  const res = await new Validator().validate(doc);
  assert.equal(res.valid, true, JSON.stringify(res.errors));
  const exp = doc.paths['/v1/events/export'].get;
  assert.deepEqual(Object.keys(exp.responses).sort(), ['200', '401', '403', '422', '429', '500', '503']);
  assert.deepEqual(Object.keys(exp.responses['200'].content).sort(), ['application/x-ndjson', 'text/csv']);
  assert.ok(exp.responses['200'].headers['postwarden-event-count']);
  assert.ok(doc.paths['/v1/events/schema'].get.responses['200']);
});
