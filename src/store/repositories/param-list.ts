import { type RawBuilder, sql } from 'kysely';
import type { DialectName } from '../dialect.js';

/**
 * `(select …)` of the strings in `values`, bound as one parameter (a JSON text SQLite reads with
 * json_each, a PostgreSQL array): for `where col in …` in hot statements whose list length changes
 * every call, such as settling a window's webhook deliveries.
 *
 * `in (?, ?, …)` is a different SQL text for every length: each was prepared afresh (SQLite keeps
 * 256 prepared statements, and lengths from 1 to 2,000 churn through them), and Kysely built and
 * compiled a node per value. One parameter keeps the text the same whatever the length.
 */
export function textList(dialect: DialectName, values: readonly string[]): RawBuilder<string> {
  return dialect === 'postgres'
    ? sql<string>`(select unnest(cast(${values} as text[])))`
    : sql<string>`(select value from json_each(${JSON.stringify(values)}))`;
}
