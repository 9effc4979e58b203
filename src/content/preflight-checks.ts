import { getDomain } from 'tldts';
import type { Stream } from '../core/index.js';
import type { ContentRules } from './content-rules.js';
import { type HtmlFacts, htmlFacts, significantWords } from './html-facts.js';

/**
 * The preflight checks: pure functions over the content of one message (and, for message-level
 * checks, its header fields) that return coaching warnings. They never change the content. Each
 * code is stable and documented in docs/content.md with its reason and threshold; thresholds and
 * lists come from rules/content.yaml.
 */
export const preflightCodes = [
  'text_part_missing',
  'html_images_only',
  'image_text_ratio',
  'image_alt_missing',
  'preview_text_missing',
  'preview_text_misleading',
  'html_clipped',
  'link_tracking_params',
  'link_shortener',
  'reply_to_misaligned',
  'list_unsubscribe_missing',
  'dkim_rotation_due',
  'cold_opening_repeated',
  'cold_spam_phrase',
] as const;
export type PreflightCode = (typeof preflightCodes)[number];

/** Codes that coach and never refuse: a tenant's policy cannot list them. */
export const coachOnlyCodes: readonly PreflightCode[] = ['dkim_rotation_due', 'cold_opening_repeated', 'cold_spam_phrase'];

export type PreflightSeverity = 'info' | 'warning';

export interface PreflightWarning {
  code: PreflightCode;
  severity: PreflightSeverity;
  /** JSON path of the request field the warning is about. */
  path: string;
  message: string;
  hint: string;
}

/** The content to check, with the request paths warnings point at. */
export interface ContentView {
  stream: Stream | null;
  subject: string;
  html?: string;
  /** The text part as it will be sent (absent: the message has none). */
  text?: string;
  /** Message-level facts; absent when a template is checked on its own (publish, preview). */
  message?: {
    fromDomain: string;
    replyToDomains: string[];
    /** Top-level header fields of the composed message, lower-case names. */
    headers: Map<string, string[]>;
  };
  paths: { subject: string; html: string; text: string; replyTo: string; headers: string };
}

export interface PreflightFacts {
  now: number;
  /** The signing selectors of the From domain and when each is due to rotate. */
  dkim?: { domain: string; selector: string; rotatesAt: number }[];
  /** Opening lines (normalised by `openingLine`) of the tenant's recent cold messages. */
  recentOpenings?: string[];
}

const DAY = 86_400_000;

export function runChecks(v: ContentView, facts: PreflightFacts, rules: ContentRules): PreflightWarning[] {
  const html = v.html !== undefined ? htmlFacts(v.html) : undefined;
  const visible = v.text ?? html?.visibleText ?? '';
  return [
    ...textPart(v),
    ...(html ? imageChecks(v, html, rules) : []),
    ...(html ? previewChecks(v, html, rules) : []),
    ...(html ? clipping(v, html, rules) : []),
    ...(html ? linkChecks(v, html, rules) : []),
    // Links of the text part not already in the HTML (a text part made from the HTML repeats them).
    ...(v.text !== undefined ? linkChecks(v, { links: linksInText(v.text, html) }, rules, v.paths.text) : []),
    ...replyTo(v),
    ...listUnsubscribe(v),
    ...dkimRotation(facts, rules),
    ...(v.stream === 'cold' ? coldChecks(v, visible, facts, rules) : []),
  ];
}

function textPart(v: ContentView): PreflightWarning[] {
  if (v.html === undefined || v.text !== undefined) return [];
  return [
    {
      code: 'text_part_missing',
      severity: 'warning',
      path: v.paths.text,
      message: 'the message has HTML but no text part',
      hint: 'Add a text version (or send from a template, which makes one from the HTML): HTML-only mail scores worse with content filters and some readers cannot show it.',
    },
  ];
}

function imageChecks(v: ContentView, h: HtmlFacts, rules: ContentRules): PreflightWarning[] {
  const out: PreflightWarning[] = [];
  const t = rules.thresholds;
  const n = h.images.length;
  if (n > 0 && h.words <= t.imageOnlyMaxWords) {
    out.push({
      code: 'html_images_only',
      severity: 'warning',
      path: v.paths.html,
      message: `the HTML is ${n} image(s) and ${h.words} word(s) of text`,
      hint: 'Put the message in text, with images beside it: filters cannot read an image-only message and many readers block images by default.',
    });
  } else if (n > 0 && h.words / n < t.minWordsPerImage) {
    out.push({
      code: 'image_text_ratio',
      severity: 'warning',
      path: v.paths.html,
      message: `${h.words} words of text for ${n} images (${Math.round(h.words / n)} per image; the threshold is ${t.minWordsPerImage})`,
      hint: `Add text or drop images: at least ${t.minWordsPerImage} visible words per image.`,
    });
  }
  const noAlt = h.images.filter((i) => i.alt === undefined);
  if (noAlt.length) {
    out.push({
      code: 'image_alt_missing',
      severity: 'warning',
      path: v.paths.html,
      message: `${noAlt.length} image(s) have no alt attribute: ${noAlt
        .slice(0, 3)
        .map((i) => i.src || '(no src)')
        .join(', ')}${noAlt.length > 3 ? ', …' : ''}`,
      hint: 'Give every image an alt text (alt="" for a purely decorative one): readers with images blocked, and screen readers, see only that.',
    });
  }
  return out;
}

function previewChecks(v: ContentView, h: HtmlFacts, rules: ContentRules): PreflightWarning[] {
  if (!h.preheader) {
    return [
      {
        code: 'preview_text_missing',
        severity: 'info',
        path: v.paths.html,
        message: `no preview text (hidden preheader): the inbox shows the opening text instead ("${h.visibleText.slice(0, 60).replace(/\s+/g, ' ')}")`,
        hint: 'Add a hidden preheader of 40-130 characters at the top of the body that sums up the message.',
      },
    ];
  }
  const pre = significantWords(h.preheader);
  if (!pre.size) return [];
  const near = significantWords(`${v.subject} ${h.visibleText.slice(0, 1000)}`);
  const shared = [...pre].filter((w) => near.has(w)).length / pre.size;
  if (shared >= rules.thresholds.previewMinOverlap) return [];
  return [
    {
      code: 'preview_text_misleading',
      severity: 'warning',
      path: v.paths.html,
      message: `the preview text "${h.preheader.slice(0, 80)}" shares ${Math.round(shared * 100)} % of its words with the subject and opening text (threshold ${Math.round(rules.thresholds.previewMinOverlap * 100)} %)`,
      hint: 'Make the preview text say what the message says: a preview that promises something else reads as bait to readers and filters.',
    },
  ];
}

function clipping(v: ContentView, h: HtmlFacts, rules: ContentRules): PreflightWarning[] {
  const limit = rules.thresholds.htmlClipBytes;
  if (h.bytes <= limit) return [];
  return [
    {
      code: 'html_clipped',
      severity: 'warning',
      path: v.paths.html,
      message: `the HTML is ${h.bytes} bytes; Gmail clips messages past ${limit} bytes (102 KB)`,
      hint: 'Trim the HTML (inline CSS duplication, comments, long tables): past the clip, Gmail hides the rest of the message, the unsubscribe footer included.',
    },
  ];
}

function linksInText(text: string, html: HtmlFacts | undefined): { href: string }[] {
  const inHtml = new Set(html?.links.map((l) => l.href));
  return (text.match(/https?:\/\/[^\s<>"')\]]+/gi) ?? []).filter((href) => !inHtml.has(href)).map((href) => ({ href }));
}

function linkChecks(v: ContentView, h: Pick<HtmlFacts, 'links'>, rules: ContentRules, path = v.paths.html): PreflightWarning[] {
  const out: PreflightWarning[] = [];
  const tracked: string[] = [];
  const shortened: string[] = [];
  for (const { href } of h.links) {
    let url: URL;
    try {
      url = new URL(href);
    } catch {
      continue;
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') continue;
    const host = url.hostname.toLowerCase();
    if (rules.shorteners.some((s) => host === s || host.endsWith(`.${s}`))) shortened.push(href);
    const params = [...url.searchParams.keys()].filter((k) => isTrackingParam(k, rules));
    if (params.length > rules.thresholds.maxTrackingParams) tracked.push(`${url.origin}${url.pathname} (${params.join(', ')})`);
  }
  if (tracked.length) {
    out.push({
      code: 'link_tracking_params',
      severity: 'warning',
      path,
      message: `${tracked.length} link(s) carry more than ${rules.thresholds.maxTrackingParams} tracking parameters: ${tracked.slice(0, 2).join('; ')}`,
      hint: 'Keep the few parameters your analytics need: long tracking-laden URLs look like spam and leak more than readers expect.',
    });
  }
  if (shortened.length) {
    out.push({
      code: 'link_shortener',
      severity: 'warning',
      path,
      message: `${shortened.length} link(s) go through a URL shortener: ${shortened.slice(0, 3).join(', ')}`,
      hint: 'Link to the destination on your own domain: shorteners hide where a link goes and are widely used by spammers, so filters distrust them.',
    });
  }
  return out;
}

function isTrackingParam(name: string, rules: ContentRules): boolean {
  const k = name.toLowerCase();
  return rules.trackingParams.some((p) => (p.endsWith('*') ? k.startsWith(p.slice(0, -1)) : k === p));
}

const orgDomain = (d: string) => (getDomain(d, { allowPrivateDomains: true }) ?? d).toLowerCase();

function replyTo(v: ContentView): PreflightWarning[] {
  const m = v.message;
  if (!m) return [];
  const from = orgDomain(m.fromDomain);
  const other = m.replyToDomains.filter((d) => orgDomain(d) !== from);
  if (!other.length) return [];
  return [
    {
      code: 'reply_to_misaligned',
      severity: 'warning',
      path: v.paths.replyTo,
      message: `Reply-To (${other.join(', ')}) is not in the From domain's organisation (${from})`,
      hint: 'Reply to an address of your own domain: a Reply-To elsewhere is a phishing pattern, and Microsoft asks bulk senders for valid From and Reply-To.',
    },
  ];
}

function listUnsubscribe(v: ContentView): PreflightWarning[] {
  const m = v.message;
  if (!m || (v.stream !== 'marketing' && v.stream !== 'cold')) return [];
  const missing = ['list-unsubscribe', 'list-unsubscribe-post'].filter((h) => !m.headers.get(h)?.length);
  const post = m.headers.get('list-unsubscribe-post')?.[0];
  if (post !== undefined && !/^\s*List-Unsubscribe=One-Click\s*$/i.test(post))
    missing.push('list-unsubscribe-post (not "List-Unsubscribe=One-Click")');
  if (!missing.length) return [];
  return [
    {
      code: 'list_unsubscribe_missing',
      severity: 'warning',
      path: v.paths.headers,
      message: `a ${v.stream} message without ${missing.join(' and ')}`,
      hint: 'Bulk mail needs RFC 8058 one-click unsubscribe (List-Unsubscribe with an https URL and List-Unsubscribe-Post: List-Unsubscribe=One-Click): Gmail and Yahoo require it of bulk senders since February 2024.',
    },
  ];
}

function dkimRotation(facts: PreflightFacts, rules: ContentRules): PreflightWarning[] {
  const horizon = facts.now + rules.thresholds.dkimRotationWarnDays * DAY;
  const due = (facts.dkim ?? []).filter((k) => k.rotatesAt <= horizon);
  return due.map((k) => ({
    code: 'dkim_rotation_due' as const,
    severity: 'info' as const,
    path: '/from',
    message: `DKIM selector ${k.selector} of ${k.domain} is due for rotation on ${new Date(k.rotatesAt).toISOString().slice(0, 10)} (within ${rules.thresholds.dkimRotationWarnDays} days)`,
    hint: 'When it rotates a new selector is made; publish its TXT record (GET /v1/domains/{id}) so signing moves to it without a gap.',
  }));
}

/**
 * The opening line a reader sees first, normalised for comparison: the first line of the text
 * that is not a greeting ("Hi Ann," varies per recipient; what follows is the template), lower-case,
 * letters and digits only, at most 80 characters. Empty when the text has none.
 */
export function openingLine(text: string): string {
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean);
  // A greeting line: opens with a greeting word, is short, and ends like one ("Dear Dr. Smith,") or is a few words ("Hi Ann").
  const greeting = (l: string) =>
    /^(hi|hello|hey|dear|good (morning|afternoon|evening)|greetings)\b/i.test(l) &&
    l.length <= 50 &&
    (/[,!:]$/.test(l) || l.split(/\s+/).length <= 3);
  const first = lines.find((l) => !greeting(l)) ?? '';
  const sentence = /^[^.!?]*[.!?]?/.exec(first)?.[0] ?? first;
  return sentence
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim()
    .slice(0, 80);
}

function coldChecks(v: ContentView, visible: string, facts: PreflightFacts, rules: ContentRules): PreflightWarning[] {
  const out: PreflightWarning[] = [];
  const t = rules.thresholds;
  const opening = openingLine(visible);
  const same = opening ? (facts.recentOpenings ?? []).filter((o) => o === opening).length : 0;
  if (same >= t.coldRepeatMin) {
    out.push({
      code: 'cold_opening_repeated',
      severity: 'warning',
      path: v.text !== undefined ? v.paths.text : v.paths.html,
      message: `the opening line "${opening}" was already used in ${same} cold messages of the last ${t.coldRepeatWindowDays} days (threshold ${t.coldRepeatMin})`,
      hint: 'Write the first line for this recipient: identical openings across many cold messages are what filters fingerprint as bulk.',
    });
  }
  const haystack = ` ${`${v.subject}\n${visible}`.toLowerCase().replace(/\s+/g, ' ')} `;
  const found = rules.spamPhrases.filter((p) => new RegExp(`(^|[^\\p{L}\\p{N}])${escapeRegExp(p)}($|[^\\p{L}\\p{N}])`, 'u').test(haystack));
  if (found.length) {
    out.push({
      code: 'cold_spam_phrase',
      severity: 'info',
      path: v.text !== undefined ? v.paths.text : v.paths.html,
      message: `known spam-trigger phrase(s): ${found.map((p) => `"${p}"`).join(', ')}`,
      hint: 'Say it plainly: these phrases read as a pitch to filters and to people who did not ask to hear from you.',
    });
  }
  return out;
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
