import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Kysely } from 'kysely';
import { insertObjects, insertRows } from '../../src/store/repositories/insert-rows.js';
import type { Database } from '../../src/store/schema.js';
import { databaseAt, forEachDialect } from '../support/dialects.js';

/**
 * Multi-row inserts written as SQL text (store/repositories/insert-rows.ts), on both dialects: every
 * value lands in its column as given (quotes, NULLs, non-ASCII, integers past 2^31), in chunks of
 * different lengths (each its own text), with a suffix such as ON CONFLICT; a row of the wrong width
 * is refused before anything is written.
 */
forEachDialect(
  'insertRows writes each value to its column, any row count, with an ON CONFLICT suffix',
  async (t, dialect) => {
    const { db } = await databaseAt(t, dialect, '001-spine');
    t.after(() => db.destroy());
    await db.schema
      .createTable('bulk_t')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('n', 'bigint')
      .addColumn('s', 'text')
      .execute();
    const cols = ['id', 'n', 's'] as const;
    const row = (i: number) => [`r${i}`, 2 ** 40 + i, i % 3 ? `it's "${i}" — ü ${i}` : null];
    for (const count of [1, 7, 400]) {
      const start = count * 1000;
      await insertRows(
        db,
        dialect,
        'bulk_t',
        cols,
        Array.from({ length: count }, (_, i) => row(start + i)),
      );
    }
    // The same ids again: skipped by the suffix, not an error.
    await insertRows(db, dialect, 'bulk_t', cols, [row(7000), row(7001)], 'on conflict ("id") do nothing');
    await insertRows(db, dialect, 'bulk_t', cols, []);
    const back = await db.selectFrom('bulk_t').selectAll().orderBy('id').execute();
    assert.equal(back.length, 408);
    const want = [
      ...[1000].map(row),
      ...Array.from({ length: 7 }, (_, i) => row(7000 + i)),
      ...Array.from({ length: 400 }, (_, i) => row(400_000 + i)),
    ]
      .map(([id, n, s]) => ({ id, n, s }))
      .sort((a, b) => (String(a.id) < String(b.id) ? -1 : 1));
    assert.deepEqual(
      back.map((r) => ({ ...r, n: Number(r.n) })),
      want,
    );
    await assert.rejects(insertRows(db, dialect, 'bulk_t', cols, [row(1), ['short', 1]]), /a row has 2 values for 3 columns/);
    assert.equal((await db.selectFrom('bulk_t').select('id').where('id', '=', 'r1').execute()).length, 0);
  },
  test,
);

forEachDialect(
  'insertObjects takes each row by column name, whatever its key order, and refuses an undefined value',
  async (t, dialect) => {
    const { db } = await databaseAt(t, dialect, '001-spine');
    t.after(() => db.destroy());
    await db.schema
      .createTable('obj_t')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('n', 'bigint')
      .addColumn('s', 'text')
      .addColumn('b', dialect === 'postgres' ? 'bytea' : 'blob')
      .execute();
    // The helper is typed by the store's tables; this one exists only here.
    const write = (rows: Record<string, unknown>[]) =>
      insertObjects(db as unknown as Kysely<Database>, dialect, 'obj_t' as 'events', rows as never[]);
    await write([
      { id: 'a', n: 2 ** 40, s: "it's", b: Buffer.from([0, 1, 255]) },
      { s: null, b: Buffer.alloc(0), n: 2, id: 'b' },
    ]);
    const back = await db.selectFrom('obj_t').selectAll().orderBy('id').execute();
    assert.deepEqual(
      back.map((r) => ({ ...r, n: Number(r.n), b: Buffer.from(r.b).toString('hex') })),
      [
        { id: 'a', n: 2 ** 40, s: "it's", b: '0001ff' },
        { id: 'b', n: 2, s: null, b: '' },
      ],
    );
    await assert.rejects(
      write([
        { id: 'c', n: 1, s: 'x', b: null },
        { id: 'd', n: undefined, s: 'x', b: null },
      ]),
      /column n is undefined/,
    );
    assert.equal((await db.selectFrom('obj_t').select('id').where('id', 'in', ['c', 'd']).execute()).length, 0);
  },
  test,
);
