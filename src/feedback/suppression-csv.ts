import { type Static, Type } from 'typebox';
import { createCsvRecordReader, streams, suppressionReasons, suppressionScopes } from '../core/index.js';
import type { SuppressionChangeRow, SuppressionRow } from '../store/index.js';
import type { EntryInput } from './suppression.js';

/**
 * The wire shapes of the suppression list, shared by the API and the CLI so an export from one
 * imports through the other. Times are ISO 8601 with milliseconds: nothing is rounded away.
 *
 * CSV (RFC 4180): a header line naming the columns, in any order; `address` is required, the
 * others optional (empty = default). Fields with a comma, quote or line break are quoted, and fields
 * a spreadsheet would run as a formula are escaped with a leading single quote (see `quote`).
 */
export const csvColumns = ['address', 'scope', 'domain', 'stream', 'reason', 'source', 'created_at', 'id'] as const;

const Time = (description: string) => Type.String({ format: 'date-time', description });
const literals = <const T extends readonly string[]>(values: T) => Type.Enum(values, { type: 'string' });

/** One entry of the list: the JSON schema (API answers, OpenAPI) and its builder (API and CLI). */
export const SuppressionJson = Type.Object(
  {
    id: Type.String({ description: 'Entry id (sup_…).' }),
    address: Type.String({ description: 'Lower-cased address.' }),
    scope: literals(suppressionScopes),
    domain: Type.Union([Type.String(), Type.Null()], { description: 'Scope identity: the sending domain it applies to.' }),
    stream: Type.Union([literals(streams), Type.Null()], { description: 'Scope identity: the stream it applies to; null: all.' }),
    reason: literals(suppressionReasons),
    source: Type.String({ description: 'Where it came from (a bounce id, an import batch, free text).' }),
    created_at: Time('When it was added.'),
  },
  {
    additionalProperties: false,
    examples: [
      {
        id: 'sup_01JD7Y0C3W2E',
        address: 'gone@example.org',
        scope: 'tenant',
        domain: null,
        stream: null,
        reason: 'hard_bounce',
        source: 'dsn:5.1.1',
        created_at: '2026-01-05T11:00:00.000Z',
      },
    ],
  },
);
export type SuppressionJson = Static<typeof SuppressionJson>;

export function suppressionJson(e: SuppressionRow): SuppressionJson {
  return {
    id: e.id,
    address: e.address,
    scope: e.scope,
    domain: e.domain,
    stream: e.stream,
    // The store holds only reasons the list accepted.
    reason: e.reason as SuppressionJson['reason'],
    source: e.source,
    created_at: new Date(e.createdAt).toISOString(),
  };
}

/** One entry of a suppression's history (who added, repeated, imported or removed it, and the entry before and after). */
export const SuppressionChangeJson = Type.Object(
  {
    id: Type.String(),
    address: Type.String(),
    action: literals(['add', 'repeat', 'remove', 'import'] as const),
    actor: Type.String({ description: 'Who: a key id, `cli`, or the feedback path.' }),
    reason: Type.Union([Type.String(), Type.Null()]),
    source: Type.Union([Type.String(), Type.Null()]),
    before: Type.Union([SuppressionJson, Type.Null()]),
    after: Type.Union([SuppressionJson, Type.Null()]),
    at: Time('When the change happened.'),
  },
  { additionalProperties: false },
);

export function suppressionChangeJson(c: SuppressionChangeRow): Static<typeof SuppressionChangeJson> {
  return {
    id: c.id,
    address: c.address,
    action: c.action,
    actor: c.actor,
    reason: c.reason,
    source: c.source,
    before: c.before && suppressionJson(c.before),
    after: c.after && suppressionJson(c.after),
    at: new Date(c.at).toISOString(),
  };
}

/**
 * CSV injection (OWASP "CSV Injection"): a spreadsheet runs a cell that starts with = + - @ TAB or CR
 * as a formula. Such cells are exported behind a single quote, which spreadsheets show as text, and
 * the import takes one quote off again. A cell that already starts with quotes before one of those
 * characters gets one more, so every value survives export → import unchanged.
 */
const FORMULA_LEAD = /^'*[=+\-@\t\r]/;
const ESCAPED_FORMULA = /^'+[=+\-@\t\r]/;

function quote(v: string): string {
  if (FORMULA_LEAD.test(v)) return `"'${v.replace(/"/g, '""')}"`;
  return /[",\r\n]/.test(v) || v !== v.trim() ? `"${v.replace(/"/g, '""')}"` : v;
}

/** Undoes the export's formula escape (see `quote`). */
const unescapeCell = (v: string) => (ESCAPED_FORMULA.test(v) ? v.slice(1) : v);

export function suppressionsToCsv(rows: SuppressionRow[]): string {
  const lines = [csvColumns.join(',')];
  for (const r of rows) {
    const j = suppressionJson(r);
    lines.push(csvColumns.map((c) => quote(j[c] ?? '')).join(','));
  }
  return `${lines.join('\r\n')}\r\n`;
}

/** Splits CSV text into records of fields (RFC 4180 §2, tolerant of LF line ends): core's streaming reader, fed once. */
export function parseCsvRecords(text: string): { records: string[][]; error?: string } {
  const reader = createCsvRecordReader();
  const records = reader.push(text);
  const last = reader.end();
  return last.error ? { records, error: last.error } : { records: [...records, ...last.records] };
}

/**
 * CSV → rows for import. Row numbers count data rows from 1 (the header is row 0), which is what
 * the error paths name: `/rows/3/address` is the third line after the header.
 */
export function suppressionsFromCsv(text: string): { entries: EntryInput[]; errors: { path: string; message: string }[] } {
  const { records, error } = parseCsvRecords(text);
  if (error) return { entries: [], errors: [{ path: '/rows', message: error }] };
  const header = records[0]?.map((h) => h.trim().toLowerCase());
  if (!header?.includes('address')) {
    return {
      entries: [],
      errors: [{ path: '/rows/0', message: `the first line must name the columns, at least address (${csvColumns.join(',')})` }],
    };
  }
  const unknown = header.filter((h) => !(csvColumns as readonly string[]).includes(h));
  if (unknown.length) return { entries: [], errors: [{ path: '/rows/0', message: `unknown column(s) ${unknown.join(', ')}` }] };
  const errors: { path: string; message: string }[] = [];
  const entries = records.slice(1).map((rec, i) => {
    if (rec.length !== header.length)
      errors.push({ path: `/rows/${i + 1}`, message: `has ${rec.length} fields; the header has ${header.length}` });
    return Object.fromEntries(header.map((h, k) => [h, unescapeCell(rec[k] ?? '')])) as EntryInput;
  });
  return { entries, errors };
}
