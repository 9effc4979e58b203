import type { FieldError, SuppressionReason } from '../core/index.js';
import type { EntryInput } from './suppression.js';
import { parseCsvRecords, suppressionsFromCsv } from './suppression-csv.js';

/**
 * The one reader of suppression import files, shared by `POST /v1/suppressions/import` and
 * `postwarden suppressions import`: our own export (CSV or JSON) and the exports of the providers
 * people migrate from, each CSV or JSON as that provider writes it:
 *
 * - `postmark`: the Suppressions API dump, `{ "Suppressions": [{ EmailAddress, SuppressionReason,
 *   Origin, CreatedAt }] }`, or a CSV with those columns. HardBounce → hard_bounce, SpamComplaint
 *   → complaint, ManualSuppression → unsubscribe when the recipient did it (Origin Recipient), else
 *   manual.
 * - `resend`: the suppressions list, `{ "data": [{ email, origin, created_at }] }` or a CSV with those
 *   columns. bounce → hard_bounce, complaint → complaint, unsubscribe → unsubscribe, manual → manual.
 * - `ses`: `aws sesv2 list-suppressed-destinations` output, `{ "SuppressedDestinationSummaries":
 *   [{ EmailAddress, Reason, LastUpdateTime }] }`, or a CSV with those columns. BOUNCE → hard_bounce,
 *   COMPLAINT → complaint.
 *
 * Column and key names are matched without regard to case, spaces and underscores (`email`, `Email`,
 * `EmailAddress`, `email_address`). A reason we cannot map is refused with its path, never guessed.
 */
export const importFormats = ['csv', 'json', 'postmark', 'resend', 'ses'] as const;
export type ImportFormat = (typeof importFormats)[number];

export interface ImportFile {
  entries: EntryInput[];
  errors: FieldError[];
  /** The path of entry i in the file, for the importer's errors. */
  pathOf: (i: number) => string;
}

type Provider = Exclude<ImportFormat, 'csv' | 'json'>;

interface ProviderShape {
  /** The JSON key holding the list. */
  listKey: string;
  email: string[];
  reason: string[];
  origin?: string[];
  created: string[];
  reasonOf(reason: string, origin: string): SuppressionReason | undefined;
}

const key = (s: string) => s.toLowerCase().replace(/[\s_-]/g, '');

const shapes: Record<Provider, ProviderShape> = {
  postmark: {
    listKey: 'Suppressions',
    email: ['emailaddress', 'email', 'address'],
    reason: ['suppressionreason', 'reason'],
    origin: ['origin'],
    created: ['createdat', 'date'],
    reasonOf: (reason, origin) =>
      (({ hardbounce: 'hard_bounce', spamcomplaint: 'complaint' })[key(reason)] as SuppressionReason | undefined) ??
      (key(reason) === 'manualsuppression' ? (key(origin) === 'recipient' ? 'unsubscribe' : 'manual') : undefined),
  },
  resend: {
    listKey: 'data',
    email: ['email', 'emailaddress', 'address'],
    reason: ['origin', 'reason'],
    created: ['createdat'],
    reasonOf: (reason) =>
      ({
        bounce: 'hard_bounce',
        bounced: 'hard_bounce',
        complaint: 'complaint',
        complained: 'complaint',
        unsubscribe: 'unsubscribe',
        unsubscribed: 'unsubscribe',
        manual: 'manual',
      })[key(reason)] as SuppressionReason | undefined,
  },
  ses: {
    listKey: 'SuppressedDestinationSummaries',
    email: ['emailaddress', 'email', 'address'],
    reason: ['reason'],
    created: ['lastupdatetime', 'createdat'],
    reasonOf: (reason) => ({ bounce: 'hard_bounce', complaint: 'complaint' })[key(reason)] as SuppressionReason | undefined,
  },
};

/** One provider record (a JSON object or a CSV row as an object) → our entry. */
function providerEntry(format: Provider, row: Record<string, unknown>, path: string, errors: FieldError[]): EntryInput {
  const shape = shapes[format];
  const byKey = new Map(Object.entries(row).map(([k, v]) => [key(k), { k, v }]));
  const pick = (names: string[] | undefined) => names?.map((n) => byKey.get(n)).find((x) => x !== undefined);
  const email = pick(shape.email);
  const reason = pick(shape.reason);
  const origin = pick(shape.origin);
  const created = pick(shape.created);
  if (!email || email.v === '') {
    errors.push({
      path: `${path}/${email?.k ?? shape.email[0]}`,
      message: `is required (the address; ${format} exports name it ${shape.email[0]})`,
    });
  }
  let ours: SuppressionReason | undefined;
  if (reason && typeof reason.v === 'string' && reason.v !== '') {
    ours = shape.reasonOf(reason.v, typeof origin?.v === 'string' ? origin.v : '');
    if (!ours)
      errors.push({ path: `${path}/${reason.k}`, message: `${JSON.stringify(reason.v)} is not a ${format} reason Postwarden maps` });
  }
  return {
    address: email?.v,
    ...(ours ? { reason: ours } : {}),
    source: `${format} export`,
    ...(created && created.v !== '' ? { created_at: created.v } : {}),
  };
}

function fromJson(input: unknown, format: Exclude<ImportFormat, 'csv'>): ImportFile {
  const listKey = format === 'json' ? 'entries' : shapes[format].listKey;
  const list = Array.isArray(input) ? input : (input as Record<string, unknown> | null)?.[listKey];
  const pathOf = (i: number) => (Array.isArray(input) ? `/${i}` : `/${listKey}/${i}`);
  if (!Array.isArray(list)) return { entries: [], errors: [{ path: `/${listKey}`, message: 'must be a list of entries' }], pathOf };
  const errors: FieldError[] = list.flatMap((x, i) =>
    typeof x !== 'object' || x === null || Array.isArray(x) ? [{ path: pathOf(i), message: 'must be an object' }] : [],
  );
  if (errors.length) return { entries: [], errors, pathOf };
  if (format === 'json') return { entries: list as EntryInput[], errors, pathOf };
  return { entries: list.map((x, i) => providerEntry(format, x as Record<string, unknown>, pathOf(i), errors)), errors, pathOf };
}

function fromProviderCsv(text: string, format: Provider): ImportFile {
  const pathOf = (i: number) => `/rows/${i + 1}`;
  const { records, error } = parseCsvRecords(text);
  if (error) return { entries: [], errors: [{ path: '/rows', message: error }], pathOf };
  const header = records[0];
  if (!header) return { entries: [], errors: [{ path: '/rows/0', message: 'the first line must name the columns' }], pathOf };
  const errors: FieldError[] = [];
  const entries = records.slice(1).map((rec, i) => {
    if (rec.length !== header.length)
      errors.push({ path: pathOf(i), message: `has ${rec.length} fields; the header has ${header.length}` });
    return providerEntry(format, Object.fromEntries(header.map((h, k) => [h.trim(), (rec[k] ?? '').trim()])), pathOf(i), errors);
  });
  return { entries, errors, pathOf };
}

/**
 * Reads an import file. `input` is the text of a file (CLI, or a text/csv body) or an already
 * parsed JSON body (API). Provider formats take CSV or JSON, told apart by the first character.
 */
export function readSuppressionImport(input: unknown, format: ImportFormat): ImportFile {
  if (format === 'csv') {
    if (typeof input !== 'string') {
      return {
        entries: [],
        errors: [{ path: '/', message: 'send the CSV as the body with Content-Type: text/csv' }],
        pathOf: (i) => `/rows/${i + 1}`,
      };
    }
    return { ...suppressionsFromCsv(input), pathOf: (i) => `/rows/${i + 1}` };
  }
  if (typeof input !== 'string') return fromJson(input, format);
  if (format !== 'json' && !/^\s*[[{]/.test(input)) return fromProviderCsv(input, format);
  let doc: unknown;
  try {
    doc = JSON.parse(input);
  } catch (e) {
    return { entries: [], errors: [{ path: '/', message: `is not JSON: ${(e as Error).message}` }], pathOf: (i) => `/${i}` };
  }
  return fromJson(doc, format);
}
