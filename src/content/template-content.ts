import { type FieldError, type Stream, streams } from '../core/index.js';

/**
 * What a template holds and how its JSON is read. A template has base content (subject, html,
 * optional text) written in its default locale, named partials (for `{% render %}` and
 * `{% include %}`), per-locale overrides of subject, html or text, and whether CSS is inlined.
 * Input is checked field by field with JSON paths, like the send request.
 */
export interface LocaleContent {
  subject?: string;
  html?: string;
  text?: string;
}

export interface TemplateContent {
  subject: string;
  html: string;
  text?: string;
  partials: Record<string, string>;
  /** Keyed by BCP 47 tag as written (`fr`, `fr-CA`); matched without regard to case. */
  locales: Record<string, LocaleContent>;
  /** The locale the base content is written in (recorded on messages that use it). */
  defaultLocale: string;
  /** Inline `<style>` rules into style attributes with juice (default true). */
  inlineCss: boolean;
}

export interface TemplateInput {
  name: string;
  stream: Stream | null;
  content: TemplateContent;
}

/** `template` on the send API: which template, which version (default: the current one), which locale, and the data. */
export interface TemplateRef {
  id: string;
  version?: number;
  locale?: string;
  data: Record<string, unknown>;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const PARTIAL = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
/** RFC 5646 in its common shape: language, then subtags (region, script, variant). */
export const LOCALE = /^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$/;
/** One source (subject, html, text or a partial) may be this long; a whole message is bounded by limits.maxMessageBytes. */
export const MAX_SOURCE_CHARS = 1_000_000;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const escapePointer = (key: string) => key.replace(/~/g, '~0').replace(/\//g, '~1');

function source(v: unknown, path: string, errors: FieldError[], required: boolean): string | undefined {
  if (v === undefined) {
    if (required) errors.push({ path, message: 'is required' });
    return undefined;
  }
  if (typeof v !== 'string') errors.push({ path, message: 'must be a string' });
  else if (v.length > MAX_SOURCE_CHARS) errors.push({ path, message: `must be at most ${MAX_SOURCE_CHARS} characters` });
  else return v;
  return undefined;
}

const templateFields = new Set(['name', 'stream', 'subject', 'html', 'text', 'partials', 'locales', 'default_locale', 'inline_css']);

/**
 * Reads a template's JSON (create, or a draft update when `partial` is set: missing fields keep
 * the `base` values). Liquid syntax is checked by the caller (template-render.ts).
 */
export function parseTemplateInput(
  body: unknown,
  base?: TemplateInput,
): { ok: true; value: TemplateInput } | { ok: false; errors: FieldError[] } {
  const errors: FieldError[] = [];
  if (!isObject(body)) return { ok: false, errors: [{ path: '', message: 'the body must be a JSON object' }] };
  for (const k of Object.keys(body))
    if (!templateFields.has(k)) errors.push({ path: `/${escapePointer(k)}`, message: 'is not a known field' });
  const has = (k: string) => body[k] !== undefined;

  let name = base?.name ?? '';
  if (has('name') || !base) {
    if (typeof body.name !== 'string' || !NAME.test(body.name))
      errors.push({ path: '/name', message: 'is required: 1-128 letters, digits, _ . - (starting with a letter or digit)' });
    else name = body.name;
  }
  let stream: Stream | null = base?.stream ?? null;
  if (has('stream')) {
    if (body.stream === null) stream = null;
    else if (typeof body.stream === 'string' && (streams as readonly string[]).includes(body.stream)) stream = body.stream as Stream;
    else errors.push({ path: '/stream', message: `must be one of ${streams.join(', ')} (or null)` });
  }
  const c = base?.content;
  const subject = has('subject') || !c ? source(body.subject, '/subject', errors, true) : c.subject;
  if (subject !== undefined && /[\r\n]/.test(subject)) errors.push({ path: '/subject', message: 'must not contain line breaks' });
  const html = has('html') || !c ? source(body.html, '/html', errors, true) : c.html;
  const text = has('text') ? (body.text === null ? undefined : source(body.text, '/text', errors, false)) : c?.text;

  let partials: Record<string, string> = c?.partials ?? {};
  if (has('partials')) {
    partials = {};
    if (!isObject(body.partials)) errors.push({ path: '/partials', message: 'must be an object of partial names to Liquid sources' });
    else
      for (const [k, v] of Object.entries(body.partials)) {
        const p = `/partials/${escapePointer(k)}`;
        if (!PARTIAL.test(k)) errors.push({ path: p, message: 'is not a valid partial name: 1-64 letters, digits, _ . -' });
        const s = source(v, p, errors, true);
        if (s !== undefined) partials[k] = s;
      }
  }

  let locales: Record<string, LocaleContent> = c?.locales ?? {};
  if (has('locales')) {
    locales = {};
    if (!isObject(body.locales))
      errors.push({ path: '/locales', message: 'must be an object of locale tags to { subject?, html?, text? }' });
    else
      for (const [tag, v] of Object.entries(body.locales)) {
        const p = `/locales/${escapePointer(tag)}`;
        if (!LOCALE.test(tag)) errors.push({ path: p, message: 'is not a locale tag such as fr or fr-CA (RFC 5646)' });
        if (!isObject(v)) {
          errors.push({ path: p, message: 'must be an object with subject, html and/or text' });
          continue;
        }
        const entry: LocaleContent = {};
        for (const k of Object.keys(v)) {
          if (k !== 'subject' && k !== 'html' && k !== 'text')
            errors.push({ path: `${p}/${escapePointer(k)}`, message: 'is not a known field' });
        }
        for (const k of ['subject', 'html', 'text'] as const) {
          const s = source(v[k], `${p}/${k}`, errors, false);
          if (s !== undefined) entry[k] = s;
        }
        if (entry.subject !== undefined && /[\r\n]/.test(entry.subject))
          errors.push({ path: `${p}/subject`, message: 'must not contain line breaks' });
        if (Object.keys(locales).some((t) => t.toLowerCase() === tag.toLowerCase()))
          errors.push({ path: p, message: 'is given twice (locale tags are matched without regard to case)' });
        locales[tag] = entry;
      }
  }

  let defaultLocale = c?.defaultLocale ?? 'en';
  if (has('default_locale')) {
    if (typeof body.default_locale !== 'string' || !LOCALE.test(body.default_locale))
      errors.push({ path: '/default_locale', message: 'must be a locale tag such as en or en-US' });
    else defaultLocale = body.default_locale;
  }
  let inlineCss = c?.inlineCss ?? true;
  if (has('inline_css')) {
    if (typeof body.inline_css !== 'boolean') errors.push({ path: '/inline_css', message: 'must be true or false' });
    else inlineCss = body.inline_css;
  }
  if (errors.length || subject === undefined || html === undefined) return { ok: false, errors };
  const content: TemplateContent = { subject, html, partials, locales, defaultLocale, inlineCss };
  if (text !== undefined) content.text = text;
  return { ok: true, value: { name, stream, content } };
}

/** The `template` field of a send request, its problems pushed with paths under `path`. */
export function parseTemplateRef(value: unknown, path: string, errors: FieldError[]): TemplateRef | undefined {
  if (!isObject(value)) {
    errors.push({ path, message: 'must be an object { id, version?, locale?, data }' });
    return undefined;
  }
  const before = errors.length;
  for (const k of Object.keys(value)) {
    if (!['id', 'version', 'locale', 'data'].includes(k))
      errors.push({ path: `${path}/${escapePointer(k)}`, message: 'is not a known field' });
  }
  if (typeof value.id !== 'string' || !value.id) errors.push({ path: `${path}/id`, message: 'is required: a template id (tpl_…) or name' });
  if (value.version !== undefined && (!Number.isInteger(value.version) || (value.version as number) < 1))
    errors.push({ path: `${path}/version`, message: 'must be a published version number (1, 2, …)' });
  if (value.locale !== undefined && (typeof value.locale !== 'string' || !LOCALE.test(value.locale)))
    errors.push({ path: `${path}/locale`, message: 'must be a locale tag such as fr or fr-CA' });
  if (value.data !== undefined && !isObject(value.data)) errors.push({ path: `${path}/data`, message: 'must be an object' });
  if (errors.length > before) return undefined;
  const ref: TemplateRef = { id: value.id as string, data: (value.data as Record<string, unknown> | undefined) ?? {} };
  if (value.version !== undefined) ref.version = value.version as number;
  if (value.locale !== undefined) ref.locale = value.locale as string;
  return ref;
}

/** The content as the API shows it (snake_case, the same shape it is written in). */
export function templateContentJson(c: TemplateContent) {
  return {
    subject: c.subject,
    html: c.html,
    ...(c.text !== undefined ? { text: c.text } : {}),
    partials: c.partials,
    locales: c.locales,
    default_locale: c.defaultLocale,
    inline_css: c.inlineCss,
  };
}
