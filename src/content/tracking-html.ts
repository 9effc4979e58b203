import { decodeAttribute, encodeAttribute, type HtmlTag, scanTags } from './html-tags.js';

/**
 * Rewrites a message's HTML for tracking, at accept time (so the stored message is what is sent):
 * each http(s) link of an `<a>` or `<area>` gets its href replaced by a signed click URL, and an open
 * pixel goes before `</body>` (or at the end). Only those attribute values change; every other byte
 * of the author's markup stays as it was.
 *
 * - `data-pw-track="off"` on a link leaves its href untouched; the attribute itself is removed
 *   (it is an instruction to us, not markup for the recipient). Any data-pw-track is removed.
 * - Links that are not http(s) (mailto:, tel:, #anchors, relative) are never rewritten, nor links to
 *   `skipPrefixes` (the platform's own unsubscribe and tracking URLs).
 */
export interface TrackingRewrite {
  /** The click URL for a target, or undefined to leave the link as it is. */
  clickUrl?: (url: string) => string | undefined;
  /** The open pixel's URL; absent, no pixel. */
  pixelUrl?: string;
  skipPrefixes?: string[];
}

export interface RewrittenLink {
  url: string;
  tracked: boolean;
  /** Why a link was left alone. */
  skipped?: 'opt-out' | 'scheme' | 'platform' | 'line-break';
}

export function rewriteHtml(html: string, opts: TrackingRewrite): { html: string; links: RewrittenLink[]; pixel: boolean } {
  const edits: { start: number; end: number; text: string }[] = [];
  const links: RewrittenLink[] = [];
  let bodyEnd: number | undefined;
  for (const tag of scanTags(html)) {
    if (tag.closing) {
      if (tag.name === 'body') bodyEnd = tag.start;
      continue;
    }
    if (tag.name !== 'a' && tag.name !== 'area') {
      for (const a of tag.attributes) if (a.name === 'data-pw-track') edits.push({ start: a.leadStart, end: a.end, text: '' });
      continue;
    }
    linkEdits(tag, opts, edits, links);
  }
  if (opts.pixelUrl) {
    const img = `<img src="${encodeAttribute(opts.pixelUrl)}" width="1" height="1" alt="" style="display:block;width:1px;height:1px;border:0">`;
    const at = bodyEnd ?? html.length;
    edits.push({ start: at, end: at, text: img });
  }
  edits.sort((a, b) => a.start - b.start);
  let out = '';
  let pos = 0;
  for (const e of edits) {
    out += html.slice(pos, e.start) + e.text;
    pos = e.end;
  }
  return { html: out + html.slice(pos), links, pixel: !!opts.pixelUrl };
}

function linkEdits(tag: HtmlTag, opts: TrackingRewrite, edits: { start: number; end: number; text: string }[], links: RewrittenLink[]) {
  const optOut = tag.attributes.find((a) => a.name === 'data-pw-track');
  for (const a of tag.attributes) if (a.name === 'data-pw-track') edits.push({ start: a.leadStart, end: a.end, text: '' });
  // HTML §13.2.5.33: a repeated attribute is ignored; the first href is the link.
  const href = tag.attributes.find((a) => a.name === 'href' && a.hasValue);
  if (!href) return;
  const url = decodeAttribute(href.value).trim();
  const off = optOut && decodeAttribute(optOut.value).trim().toLowerCase() === 'off';
  const skipped: RewrittenLink['skipped'] = off
    ? 'opt-out'
    : !/^https?:\/\//i.test(url)
      ? 'scheme'
      : /[\r\n]/.test(url)
        ? 'line-break'
        : opts.skipPrefixes?.some((p) => url.startsWith(p))
          ? 'platform'
          : undefined;
  const tracked = !skipped && opts.clickUrl ? opts.clickUrl(url) : undefined;
  if (!tracked) {
    links.push({ url, tracked: false, ...(skipped ? { skipped } : {}) });
    return;
  }
  const start = href.quote ? href.valueStart - 1 : href.valueStart;
  const end = href.quote ? href.valueEnd + 1 : href.valueEnd;
  edits.push({ start, end, text: `"${encodeAttribute(tracked)}"` });
  links.push({ url, tracked: true });
}
