import { CompiledQuery, type Insertable, type Kysely } from 'kysely';
import type { DialectName } from '../dialect.js';
import type { Database } from '../schema.js';

/**
 * `insert into <table> (<columns>) values (…), (…)` for large multi-row inserts on the hot path (a
 * fan-out batch of webhook deliveries: up to 400 rows), written as SQL text directly and run as
 * Kysely's CompiledQuery.
 *
 * Kysely's query builder makes a node per value and compiles them to text at every call: for 400
 * rows of 12 columns, 4,800 nodes and a 20 KB string. In a CPU profile of `bench webhooks`' delivery
 * pair the delivery insert took 175 ms of the main thread that way, 118 ms with this. (The spine's
 * inserts, a few rows each then, gained nothing measurable; see insertObjects.) The text is built
 * once per (table, row count) and the values go as they are, in one flat array: they must already
 * be what the driver binds (strings, numbers, null, Buffers).
 */
const texts = new Map<string, string>();

export async function insertRows(
  db: Kysely<unknown>,
  dialect: DialectName,
  table: string,
  columns: readonly string[],
  rows: readonly (readonly unknown[])[],
  /** Appended as is, e.g. `on conflict (a, b) do nothing`. */
  suffix = '',
): Promise<void> {
  if (!rows.length) return;
  const key = `${dialect}\u0000${table}\u0000${columns.join(',')}\u0000${rows.length}\u0000${suffix}`;
  let text = texts.get(key);
  if (text === undefined) {
    let n = 0;
    const tuple = () => `(${columns.map(() => (dialect === 'postgres' ? `$${++n}` : '?')).join(', ')})`;
    const tuples = Array.from({ length: rows.length }, tuple);
    text = `insert into "${table}" (${columns.map((c) => `"${c}"`).join(', ')}) values ${tuples.join(', ')}${suffix ? ` ${suffix}` : ''}`;
    // Bounded: row counts vary, but a few tables at a few hundred lengths each.
    if (texts.size >= 4096) texts.clear();
    texts.set(key, text);
  }
  const params: unknown[] = [];
  for (const r of rows) {
    if (r.length !== columns.length) throw new Error(`insertRows(${table}): a row has ${r.length} values for ${columns.length} columns`);
    for (const v of r) params.push(v);
  }
  await db.executeQuery(CompiledQuery.raw(text, params));
}

/**
 * insertRows for rows written as objects of the table's columns, as the query builder takes them:
 * the columns are the first row's keys, and every row must give each of them a value (null, not
 * undefined: the builder would leave an undefined column to its default, which this does not do).
 * For the inserts every message makes (messages, recipients, events, TLS attempts): the builder's
 * nodes and compilation were 117 MB of the 2,651 MB a heap profile of `bench deliver` sampled on the
 * main thread for 10,000 messages, now that group commit gives those statements tens of rows each.
 */
export async function insertObjects<T extends keyof Database & string>(
  db: Kysely<Database>,
  dialect: DialectName,
  table: T,
  rows: readonly Insertable<Database[T]>[],
): Promise<void> {
  if (!rows.length) return;
  const columns = Object.keys(rows[0]!);
  const values = rows.map((r) => {
    const row = r as Record<string, unknown>;
    return columns.map((c) => {
      const v = row[c];
      if (v === undefined) throw new Error(`insertObjects(${table}): column ${c} is undefined in a row`);
      return v;
    });
  });
  await insertRows(db as unknown as Kysely<unknown>, dialect, table, columns, values);
}
