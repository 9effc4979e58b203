import type { FieldError } from '../core/index.js';

/**
 * The field spellings people bring from other providers, folded into ours before the send body is
 * checked: `replyTo` → `reply_to`, `html_body` → `html`, `text_body` → `text`, headers as a list of
 * `{ name, value }` → an object, and per attachment `content_base64` → `content`, `contentType` →
 * `content_type`, `contentId` → `content_id`. Each fold is reported as a warning (`path` of the
 * variant, what was done) so the caller learns our spelling without a failed request.
 *
 * Nothing is guessed on ambiguity: when both spellings of one field are present with different
 * values the request fails with the variant's path. The same value twice is not ambiguous and is
 * read once, with a warning.
 */
export interface SendWarning {
  /** JSON Pointer of the variant in the request as sent. */
  path: string;
  /** What was done with it. */
  message: string;
}

export interface Normalised {
  body: Record<string, unknown>;
  warnings: SendWarning[];
  errors: FieldError[];
}

/** Variant → our field, at the top level of a send. */
const topLevel: readonly [variant: string, ours: string][] = [
  ['replyTo', 'reply_to'],
  ['html_body', 'html'],
  ['text_body', 'text'],
];

/** Variant → our field, inside one attachment. */
const attachmentLevel: readonly [variant: string, ours: string][] = [
  ['content_base64', 'content'],
  ['contentType', 'content_type'],
  ['contentId', 'content_id'],
];

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Equal as JSON values (key order ignored): the test for "the same value twice". */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => sameJson(x, b[i]));
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => k in b && sameJson(a[k], b[k]));
  }
  return false;
}

/** Folds aliases of one object in place (a copy), reporting under `base`. */
function foldAliases(
  source: Record<string, unknown>,
  pairs: readonly (readonly [string, string])[],
  base: string,
  out: Normalised,
): Record<string, unknown> {
  const copy = { ...source };
  for (const [variant, ours] of pairs) {
    if (!(variant in copy)) continue;
    const value = copy[variant];
    delete copy[variant];
    if (ours in copy) {
      if (!sameJson(copy[ours], value)) {
        out.errors.push({
          path: `${base}/${variant}`,
          message: `conflicts with ${ours}, which has another value; send one of the two`,
        });
        continue;
      }
      out.warnings.push({ path: `${base}/${variant}`, message: `repeats ${ours} with the same value; read once as ${ours}` });
      continue;
    }
    copy[ours] = value;
    out.warnings.push({ path: `${base}/${variant}`, message: `read as ${ours}` });
  }
  return copy;
}

/** `[{ name, value }]` → `{ name: value }`; a name twice (case-insensitive, as header names are) is refused. */
function headersFromList(list: unknown[], out: Normalised): Record<string, unknown> {
  const headers: Record<string, unknown> = {};
  const seen = new Map<string, number>();
  list.forEach((item, i) => {
    const p = `/headers/${i}`;
    if (!isObject(item)) {
      out.errors.push({ path: p, message: 'must be an object with name and value' });
      return;
    }
    for (const k of Object.keys(item)) {
      if (k !== 'name' && k !== 'value') out.errors.push({ path: `${p}/${k}`, message: 'is not a known field (name, value)' });
    }
    if (typeof item.name !== 'string' || !item.name) {
      out.errors.push({ path: `${p}/name`, message: 'is required and must be a string' });
      return;
    }
    if (typeof item.value !== 'string') {
      out.errors.push({ path: `${p}/value`, message: 'is required and must be a string' });
      return;
    }
    const key = item.name.toLowerCase();
    const earlier = seen.get(key);
    if (earlier !== undefined) {
      out.errors.push({ path: `${p}/name`, message: `repeats the header of /headers/${earlier}; each header may be given once` });
      return;
    }
    seen.set(key, i);
    headers[item.name] = item.value;
  });
  out.warnings.push({ path: '/headers', message: `read a list of ${list.length} {name, value} pairs as an object of header names` });
  return headers;
}

export function normaliseSendVariants(body: Record<string, unknown>): Normalised {
  const out: Normalised = { body, warnings: [], errors: [] };
  const folded = foldAliases(body, topLevel, '', out);
  if (Array.isArray(folded.headers)) folded.headers = headersFromList(folded.headers, out);
  if (Array.isArray(folded.attachments)) {
    folded.attachments = folded.attachments.map((a: unknown, i) =>
      isObject(a) ? foldAliases(a, attachmentLevel, `/attachments/${i}`, out) : a,
    );
  }
  out.body = folded;
  return out;
}
