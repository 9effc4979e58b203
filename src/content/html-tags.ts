/**
 * A small HTML start-tag scanner with exact source offsets, enough to rewrite one attribute value
 * without touching a byte around it. It follows the WHATWG tokenizer where it matters for finding
 * tags and attributes (HTML Living Standard §13.2.5): comments (`<!-- … -->`), doctypes and bogus
 * comments (`<!…>`, `<?…>`) are skipped, the text of raw-text and RCDATA elements (script, style,
 * textarea, title, …) is skipped up to their end tag, and attributes are read in their three forms
 * (double-quoted, single-quoted, unquoted). A `<` not followed by a letter is text.
 *
 * Nothing is built (no DOM), so rewriting a large message costs one pass and the output keeps the
 * author's markup exactly, apart from the attributes changed on purpose.
 */
export interface HtmlAttribute {
  /** Lower-case name. */
  name: string;
  /** Where the whitespace before the attribute begins (removing [leadStart, end) removes it cleanly). */
  leadStart: number;
  /** One past the attribute's last character (closing quote included). */
  end: number;
  /** The raw (undecoded) value; '' when the attribute has none. */
  value: string;
  /** The value's span without quotes; both equal `end` when there is no value. */
  valueStart: number;
  valueEnd: number;
  quote: '"' | "'" | '';
  hasValue: boolean;
}

export interface HtmlTag {
  /** Lower-case tag name. */
  name: string;
  /** Index of `<`. */
  start: number;
  /** One past `>` (or the end of input for an unterminated tag). */
  end: number;
  closing: boolean;
  attributes: HtmlAttribute[];
}

const RAW_TEXT = new Set(['script', 'style', 'textarea', 'title', 'xmp', 'iframe', 'noembed', 'noframes', 'plaintext']);
const isSpace = (c: string | undefined) => c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f';
const isAlpha = (c: string | undefined) => c !== undefined && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'));

/** Every start and end tag of `html`, in order. */
export function* scanTags(html: string): Generator<HtmlTag> {
  const n = html.length;
  let lower: string | undefined;
  let i = 0;
  while (i < n) {
    const lt = html.indexOf('<', i);
    if (lt < 0) return;
    const next = html[lt + 1];
    if (html.startsWith('<!--', lt)) {
      const close = html.indexOf('-->', lt + 4);
      i = close < 0 ? n : close + 3;
      continue;
    }
    if (next === '!' || next === '?') {
      const close = html.indexOf('>', lt + 2);
      i = close < 0 ? n : close + 1;
      continue;
    }
    const closing = next === '/';
    const nameStart = closing ? lt + 2 : lt + 1;
    if (!isAlpha(html[nameStart])) {
      i = lt + 1;
      continue;
    }
    let j = nameStart;
    while (j < n && !isSpace(html[j]) && html[j] !== '/' && html[j] !== '>') j++;
    const name = html.slice(nameStart, j).toLowerCase();
    const { attributes, end } = readAttributes(html, j);
    yield { name, start: lt, end, closing, attributes };
    i = end;
    if (!closing && RAW_TEXT.has(name)) {
      lower ??= html.toLowerCase();
      i = rawTextEnd(lower, end, name);
    }
  }
}

function readAttributes(html: string, from: number): { attributes: HtmlAttribute[]; end: number } {
  const n = html.length;
  const attributes: HtmlAttribute[] = [];
  let i = from;
  while (i < n) {
    const leadStart = i;
    while (i < n && (isSpace(html[i]) || html[i] === '/')) i++;
    if (i >= n) break;
    if (html[i] === '>') return { attributes, end: i + 1 };
    // §13.2.5.32: a leading "=" is part of the name.
    const nameStart = i;
    i++;
    while (i < n && !isSpace(html[i]) && html[i] !== '/' && html[i] !== '>' && html[i] !== '=') i++;
    const name = html.slice(nameStart, i).toLowerCase();
    let k = i;
    while (k < n && isSpace(html[k])) k++;
    if (html[k] !== '=') {
      attributes.push({ name, leadStart, end: i, value: '', valueStart: i, valueEnd: i, quote: '', hasValue: false });
      continue;
    }
    k++;
    while (k < n && isSpace(html[k])) k++;
    const q = html[k];
    if (q === '"' || q === "'") {
      const close = html.indexOf(q, k + 1);
      const valueEnd = close < 0 ? n : close;
      const end = close < 0 ? n : close + 1;
      attributes.push({ name, leadStart, end, value: html.slice(k + 1, valueEnd), valueStart: k + 1, valueEnd, quote: q, hasValue: true });
      i = end;
    } else {
      let e = k;
      while (e < n && !isSpace(html[e]) && html[e] !== '>') e++;
      attributes.push({ name, leadStart, end: e, value: html.slice(k, e), valueStart: k, valueEnd: e, quote: '', hasValue: true });
      i = e;
    }
  }
  return { attributes, end: n };
}

/** Where the text of a raw-text element ends: at its end tag (`</name` then space, / or >). `lower` is the lower-cased HTML. */
function rawTextEnd(lower: string, from: number, name: string): number {
  let i = from;
  for (;;) {
    const at = lower.indexOf(`</${name}`, i);
    if (at < 0) return lower.length;
    const after = lower[at + 2 + name.length];
    if (after === undefined || isSpace(after) || after === '/' || after === '>') return at;
    i = at + 2;
  }
}

const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };

/**
 * Decodes the character references that occur in URLs (`&amp;`, numeric ones and a few named).
 * Unknown named references are left as written, as a browser does for an ambiguous ampersand.
 */
export function decodeAttribute(raw: string): string {
  return raw.replace(/&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z]{2,8});?/g, (m, ref: string) => {
    if (ref[0] === '#') {
      const code = ref[1] === 'x' || ref[1] === 'X' ? Number.parseInt(ref.slice(2), 16) : Number.parseInt(ref.slice(1), 10);
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : m;
    }
    return NAMED[ref.toLowerCase()] ?? m;
  });
}

/** Escapes a value for a double-quoted attribute. */
export const encodeAttribute = (value: string) => value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
