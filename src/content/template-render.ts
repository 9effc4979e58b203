import { convert } from 'html-to-text';
import { Liquid, type LiquidError, type Template } from 'liquidjs';
import { type FieldError, PostwardenError, validationError } from '../core/index.js';
import type { LocaleContent, TemplateContent } from './template-content.js';

/**
 * Renders a template with liquidjs, safely:
 * - strictVariables: a variable the data lacks is an error naming it as written
 *   (`order.items[0].name`), where it is (part, line, column) and the JSON path of the data it
 *   needed; never an empty string. strictFilters: an unknown filter is an error too.
 * - HTML output is escaped (`outputEscape: 'escape'`); only the explicit `raw` filter writes data
 *   as HTML, for content the sender trusts. The subject and the text part are not HTML, so they
 *   are rendered unescaped.
 * - Partials come from the template's own named partials (liquidjs's in-memory `templates`
 *   map): `{% render %}` and `{% include %}` never reach the file system.
 * - Locales fall back field by field along the tag's prefixes, then to the base content:
 *   `fr-CA` → `fr` → default.
 * - CSS is inlined with juice unless the template turns it off; a text part missing from the
 *   template is made from the rendered HTML with html-to-text.
 */
export interface Rendered {
  subject: string;
  html: string;
  text: string;
  /** The locale whose content was used first (`fr` for a request of `fr-CA` without its own), or the default. */
  locale: string;
}

/** `fr-CA-x` → [`fr-CA-x`, `fr-CA`, `fr`]: RFC 4647 §3.4 lookup order (truncate from the end). */
export function localeChain(tag: string | undefined): string[] {
  if (!tag) return [];
  const parts = tag.split('-');
  return parts.map((_, i) => parts.slice(0, parts.length - i).join('-'));
}

function localeEntry(locales: Record<string, LocaleContent>, tag: string): [string, LocaleContent] | undefined {
  const key = Object.keys(locales).find((k) => k.toLowerCase() === tag.toLowerCase());
  return key === undefined ? undefined : [key, locales[key]!];
}

/** Which text each part uses for a requested locale, and where each came from (for error paths). */
export function resolveLocale(c: TemplateContent, requested?: string) {
  const chain = localeChain(requested)
    .map((t) => localeEntry(c.locales, t))
    .filter((x): x is [string, LocaleContent] => x !== undefined);
  const pick = (k: 'subject' | 'html' | 'text') => {
    for (const [tag, entry] of chain) if (entry[k] !== undefined) return { source: entry[k]!, where: `/locales/${tag}/${k}` };
    const base = c[k];
    return base === undefined ? undefined : { source: base, where: `/${k}` };
  };
  return { locale: chain[0]?.[0] ?? c.defaultLocale, subject: pick('subject')!, html: pick('html')!, text: pick('text') };
}

function engines(partials: Record<string, string>, lenient = false) {
  const common = { strictVariables: !lenient, strictFilters: true, ownPropertyOnly: true, templates: partials };
  return { html: new Liquid({ ...common, outputEscape: 'escape' }), plain: new Liquid(common) };
}

/** Checks every source parses (syntax, known tags and filters); problems are returned with their paths. */
export function checkTemplateSyntax(c: TemplateContent): FieldError[] {
  const { html } = engines(c.partials);
  const errors: FieldError[] = [];
  const check = (src: string, path: string) => {
    try {
      html.parse(src);
    } catch (e) {
      errors.push({ path, message: `is not valid Liquid: ${(e as Error).message}` });
    }
  };
  check(c.subject, '/subject');
  check(c.html, '/html');
  if (c.text !== undefined) check(c.text, '/text');
  for (const [k, v] of Object.entries(c.partials)) check(v, `/partials/${k}`);
  for (const [tag, l] of Object.entries(c.locales)) for (const [k, v] of Object.entries(l)) check(v, `/locales/${tag}/${k}`);
  return errors;
}

export interface RenderOptions {
  data: Record<string, unknown>;
  locale?: string;
  /** JSON path of the data in the request (`/template/data` on a send, `/data` on a preview). */
  dataPath: string;
  /**
   * Missing variables render empty: only for the preflight of a template published without sample
   * data, to look at its structure. Never for a send or a preview.
   */
  lenient?: boolean;
}

/**
 * A template's engines and parsed sources, kept for reuse: a published version never changes, so
 * the templates service keeps one per version and a send does not parse again (parsing is most of
 * liquidjs's cost).
 */
export interface CompiledTemplate {
  content: TemplateContent;
  engines: Map<'strict' | 'lenient', ReturnType<typeof engines>>;
  parsed: Map<string, Template[]>;
}

export function compileTemplate(content: TemplateContent): CompiledTemplate {
  return { content, engines: new Map(), parsed: new Map() };
}

export async function renderTemplate(t: TemplateContent | CompiledTemplate, o: RenderOptions): Promise<Rendered> {
  const compiled = 'engines' in t ? t : compileTemplate(t);
  const c = compiled.content;
  const parts = resolveLocale(c, o.locale);
  const mode = o.lenient ? 'lenient' : 'strict';
  let e = compiled.engines.get(mode);
  if (!e) {
    e = engines(c.partials, o.lenient);
    compiled.engines.set(mode, e);
  }
  const run = async (kind: 'html' | 'plain', part: { source: string; where: string }) => {
    const engine = e[kind];
    const key = `${mode}:${kind}:${part.where}`;
    try {
      let parsed = compiled.parsed.get(key);
      if (!parsed) {
        parsed = engine.parse(part.source);
        compiled.parsed.set(key, parsed);
      }
      return (await engine.render(parsed, o.data)) as string;
    } catch (err) {
      throw renderProblem(err, part.where, o);
    }
  };
  const subject = (await run('plain', parts.subject)).replace(/\s*[\r\n]+\s*/g, ' ').trim();
  let html = await run('html', parts.html);
  // Loaded on first use: juice (and cheerio under it) costs every process start ~0.5 s otherwise.
  if (c.inlineCss) html = (await import('juice')).default(html);
  const text = parts.text ? await run('plain', parts.text) : textFromHtml(html);
  return { subject, html, text, locale: parts.locale };
}

/** The text part made from HTML: links keep their URL, images are left out, lines wrap at 78 (RFC 5322 §2.1.1's advice). */
export function textFromHtml(html: string): string {
  return convert(html, {
    wordwrap: 78,
    selectors: [
      { selector: 'a', options: { hideLinkHrefIfSameAsText: true } },
      { selector: 'img', format: 'skip' },
    ],
  });
}

/** `order.items.0.name` (liquidjs's form) → `order.items[0].name`. */
function bracketed(dotted: string): string {
  return dotted.replace(/\.(\d+)(?=\.|$)/g, '[$1]');
}

/** `order.items[0].name` → [`order`, `items`, `0`, `name`]; undefined when a segment is not a literal. */
function segmentsOf(expr: string): string[] | undefined {
  const out: string[] = [];
  const re = /^\s*([A-Za-z_][\w-]*)|\.([A-Za-z_][\w-]*)|\[(\d+)\]|\["([^"]*)"\]|\['([^']*)'\]/y;
  let i = 0;
  re.lastIndex = 0;
  while (i < expr.length) {
    re.lastIndex = i;
    const m = re.exec(expr);
    if (!m || (i > 0 && m[1] !== undefined)) return undefined;
    out.push(m[1] ?? m[2] ?? m[3] ?? m[4] ?? m[5]!);
    i = re.lastIndex;
    if (expr.slice(i).trim() === '') break;
  }
  return out.length ? out : undefined;
}

function renderProblem(err: unknown, where: string, o: RenderOptions): PostwardenError {
  const e = err as LiquidError & { originalError?: Error & { variableName?: string }; token?: { getText(): string } };
  const cause = e.originalError ?? e;
  const line = /line:(\d+), col:(\d+)/.exec(e.message ?? '');
  const at = `${where}${line ? `, line ${line[1]}, column ${line[2]}` : ''}`;
  if (e.name === 'UndefinedVariableError' || cause.name === 'UndefinedVariableError') {
    const written = e.token?.getText().trim() ?? '';
    const missing = bracketed(/undefined variable: ([^,]+)/.exec(cause.message)?.[1] ?? written);
    const expr = written && /^[\w.[\]"'-]+$/.test(written) ? written : missing;
    const segs = segmentsOf(expr);
    // A path into the data when the expression starts at a data key, or is a missing top-level
    // key; not when it starts at a loop or assigned variable (`i.name` in a for loop).
    const inData = segs && (Object.hasOwn(o.data, segs[0]!) || !/[.[]/.test(missing));
    const path = inData ? `${o.dataPath}/${segs.map((s) => s.replace(/~/g, '~0').replace(/\//g, '~1')).join('/')}` : o.dataPath;
    const message =
      `${expr} is not defined (template ${at})` +
      (missing !== expr ? `: ${missing} is missing from the data` : '') +
      '; strict variables never render an empty string';
    return validationError([{ path, message }], `The template needs ${expr}, which the data does not have.`);
  }
  return new PostwardenError('VALIDATION_FAILED', `The template could not be rendered: ${cause.message}`, {
    errors: [{ path: o.dataPath, message: `rendering failed at ${at}: ${cause.message}` }],
  });
}
