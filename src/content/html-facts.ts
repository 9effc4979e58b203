import { convert, type DomNode, type FormatCallback } from 'html-to-text';

/**
 * What the preflight needs to know about an HTML body, read once with html-to-text's parser
 * (htmlparser2): the images with their alt text, the links, the visible text (images left out,
 * the hidden preheader taken apart), and the preheader itself.
 *
 * The preheader ("preview text") is the convention mail clients honour: the first element hidden
 * with `display:none` (or `max-height:0` with `overflow:hidden`, or a class named like
 * `preheader`/`preview`) is what the inbox list shows beside the subject. Without one, clients show
 * the opening of the visible text.
 */
export interface HtmlFacts {
  /** `alt` undefined: the attribute is absent (an empty alt is a deliberate decorative image). */
  images: { src: string; alt?: string }[];
  links: { href: string }[];
  /** The text a reader sees, without the preheader; images are not text. */
  visibleText: string;
  words: number;
  preheader?: string;
  /** Size of the HTML in UTF-8 bytes. */
  bytes: number;
}

const HIDDEN_ELEMENT = /<(div|span|p|td|table)\b([^>]*)>([\s\S]*?)<\/\1\s*>/gi;

function isHidden(attrs: string): boolean {
  const style = /\bstyle\s*=\s*("([^"]*)"|'([^']*)')/i.exec(attrs);
  const css = (style?.[2] ?? style?.[3] ?? '').replace(/\s+/g, '').toLowerCase();
  if (css.includes('display:none')) return true;
  if (/max-height:0(px)?(;|$)/.test(css) && css.includes('overflow:hidden')) return true;
  const cls = /\bclass\s*=\s*("([^"]*)"|'([^']*)')/i.exec(attrs);
  return /\b(preheader|preview(-text)?)\b/i.test(cls?.[2] ?? cls?.[3] ?? '');
}

const countWords = (s: string) => (s.match(/[\p{L}\p{N}][\p{L}\p{N}'’-]*/gu) ?? []).length;

export function htmlFacts(html: string): HtmlFacts {
  let preheader: string | undefined;
  let rest = html;
  for (const m of html.matchAll(HIDDEN_ELEMENT)) {
    if (!isHidden(m[2]!)) continue;
    const text = plainText(m[3]!)
      .replace(/(?:\s|\u200c|\u034f|\u00ad|\u2007|\u00a0)+/g, ' ')
      .trim();
    if (!text) continue;
    preheader = text;
    rest = html.slice(0, m.index) + html.slice(m.index + m[0].length);
    break;
  }
  const images: HtmlFacts['images'] = [];
  const links: HtmlFacts['links'] = [];
  const image: FormatCallback = (elem: DomNode) => {
    const a = elem.attribs ?? {};
    images.push({ src: a.src ?? '', ...(a.alt !== undefined ? { alt: a.alt } : {}) });
  };
  const anchor: FormatCallback = (elem: DomNode, walk, builder) => {
    if (elem.attribs?.href) links.push({ href: elem.attribs.href });
    walk(elem.children ?? [], builder);
  };
  const visibleText = convert(rest, {
    wordwrap: false,
    formatters: { pwImage: image, pwAnchor: anchor },
    selectors: [
      { selector: 'img', format: 'pwImage' },
      { selector: 'a', format: 'pwAnchor' },
      { selector: 'style', format: 'skip' },
      { selector: 'head', format: 'skip' },
    ],
  }).trim();
  return {
    images,
    links,
    visibleText,
    words: countWords(visibleText),
    ...(preheader ? { preheader } : {}),
    bytes: Buffer.byteLength(html),
  };
}

function plainText(fragment: string): string {
  return convert(fragment, {
    wordwrap: false,
    selectors: [
      { selector: 'img', format: 'skip' },
      { selector: 'a', options: { ignoreHref: true } },
    ],
  });
}

/** Words of four letters or more, lower-cased: what two texts are compared on. */
export function significantWords(s: string): Set<string> {
  return new Set((s.toLowerCase().match(/\p{L}{4,}/gu) ?? []).map((w) => w));
}
