/**
 * Heuristics for bounces written for humans: the text of non-RFC 3464 bounces (qmail's QSBMF, Exim,
 * Sendmail, Exchange/Office 365 NDRs, Lotus, localized MTAs) and the human part of RFC 3464 DSNs
 * whose delivery-status lacks a diagnostic. Nothing here knows a vendor's exact template: it finds
 * recipient addresses in the positions bounce writers put them (alone on a line, `<addr>:` at the
 * start of a paragraph, `RCPT TO:<addr>`, "your message to addr"), cuts the text into one segment
 * per recipient, and takes the best-looking SMTP reply in each segment. That generalises to
 * templates we have never seen far better than per-vendor regexes would.
 */
import { parseSmtpResponse, type SmtpResponse } from '../core/index.js';
import { findEnhancedCode, splitInlineContinuations } from './classifier.js';
import { returnedMessageOffset } from './original-message.js';

export interface TextRecipient {
  address: string;
  reply?: SmtpResponse;
  /** The paragraph that explains the failure, whitespace-collapsed (max 1000 characters). */
  diagnostic?: string;
  /** RFC 3463 code written in the text when no reply carried one (`(#5.1.1)`). */
  status?: string;
  /** Host named as the remote server (`host mx.example.org[192.0.2.1] said:`). */
  remoteMta?: string;
  /** How the address was found, for evidence. */
  found: 'header' | 'line' | 'sentence' | 'reply' | 'weak';
}

const ADDRESS = /[\p{L}\p{N}.!#$%&'*+/=?^_`{|}~-]+@(?:[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?\.)+\p{L}[\p{L}\p{N}-]{1,62}/gu;
const SYSTEM_LOCAL_PART = /^(mailer-daemon|postmaster|mail-daemon|mailerdaemon|mdaemon|double-bounce|nobody|root|abuse)$/i;
const SENTENCE_BEFORE =
  /(?:\bto|\bfor|recipients?|address(?:es)?|delivered to|deliver to|delivery to|Empfänger|Empfaenger|destinataire|destinatario|destinat[aá]rio|an|à|a)\s*:?\s*["'<(]*$/iu;
const MAX_RECIPIENTS = 200;

/**
 * Recipients and their failure reasons from the human-readable text. `hinted` are addresses the
 * message header already names (X-Failed-Recipients); `exclude` are addresses that are never the
 * failed recipient (the bounce's own From/To, the original sender).
 */
export function recipientsFromText(text: string, opts: { hinted?: string[]; exclude?: string[] } = {}): TextRecipient[] {
  const report = text.slice(0, returnedMessageOffset(text));
  const exclude = new Set((opts.exclude ?? []).map((a) => a.toLowerCase()));
  const hinted = (opts.hinted ?? []).map((a) => a.trim()).filter(Boolean);

  // First occurrence of each candidate address, with how it was found.
  const found = new Map<string, { address: string; index: number; how: TextRecipient['found'] }>();
  const rank = { header: 4, line: 3, reply: 2, sentence: 1, weak: 0 } as const;
  const consider = (address: string, index: number, how: TextRecipient['found']) => {
    const key = address.toLowerCase();
    const prev = found.get(key);
    if (!prev) found.set(key, { address, index, how });
    else if (rank[how] > rank[prev.how]) prev.how = how;
  };
  for (const h of hinted) {
    const i = report.toLowerCase().indexOf(h.toLowerCase());
    consider(h, i >= 0 ? i : report.length, 'header');
  }
  for (const m of report.matchAll(ADDRESS)) {
    const address = m[0].replace(/[.]+$/, '');
    const key = address.toLowerCase();
    if (exclude.has(key) || SYSTEM_LOCAL_PART.test(key.split('@')[0]!)) continue;
    const how = positionKind(report, m.index!, address.length);
    if (how) consider(address, m.index!, how);
  }
  let chosen = [...found.values()].filter((f) => f.how !== 'weak');
  if (hinted.length > 0) chosen = chosen.filter((f) => f.how === 'header');
  if (chosen.length === 0) chosen = [...found.values()].slice(0, 3);
  chosen.sort((a, b) => a.index - b.index);
  chosen = chosen.slice(0, MAX_RECIPIENTS);

  return chosen.map((r, k) => {
    const end = chosen[k + 1]?.index ?? report.length;
    const start = Math.min(r.index, report.length);
    // An address named only by a header (X-Failed-Recipients) has no place in the text: the whole
    // report explains its failure.
    let segment = start >= report.length ? report : report.slice(start, Math.max(end, start));
    let reply = bestReply(segment);
    // One explanation shared by several recipients (or printed before the list): use the whole
    // report, unless this recipient's own paragraph explains itself (qmail's "(#5.1.1)" lines).
    if (!reply && !ownExplanation(segment, r.address)) {
      const whole = bestReply(report);
      if (whole) {
        reply = whole;
        segment = report;
      }
    }
    const out: TextRecipient = { address: r.address, found: r.how };
    if (reply) {
      out.reply = reply.response;
      out.diagnostic = reply.raw;
    } else {
      const explanation = explain(segment, r.address);
      if (explanation) out.diagnostic = explanation;
      const status = findEnhancedCode(explanation ?? segment);
      if (status) out.status = status;
    }
    const host =
      /\bhost\s+([a-z0-9.-]+\.[a-z]{2,})\s*\[/i.exec(segment) ??
      /\b(?:Remote[- ]MTA|Generating server|remote server|mail server)\s*:?\s*(?:dns;\s*)?([a-z0-9.-]+\.[a-z]{2,})/i.exec(segment);
    if (host) out.remoteMta = host[1]!.toLowerCase();
    return out;
  });
}

/**
 * The failure explained by a bounce that names no recipient address (GroupWise and Lotus bare user
 * names, templates that only say "your message"): the caller links it through the VERP address.
 */
export function failureFromText(text: string): Omit<TextRecipient, 'address' | 'found'> | undefined {
  const report = text.slice(0, returnedMessageOffset(text));
  const reply = bestReply(report);
  if (reply) return { reply: reply.response, diagnostic: reply.raw };
  const diagnostic = report.replace(/\s+/g, ' ').trim().slice(0, 1000);
  if (!diagnostic) return undefined;
  const status = findEnhancedCode(diagnostic);
  return { diagnostic, ...(status ? { status } : {}) };
}

/** How an address at `index` is placed: a recipient position, or null (mentioned in passing). */
function positionKind(text: string, index: number, length: number): TextRecipient['found'] | null {
  const lineStart = text.lastIndexOf('\n', index - 1) + 1;
  const lineEndRaw = text.indexOf('\n', index + length);
  const lineEnd = lineEndRaw < 0 ? text.length : lineEndRaw;
  const before = text.slice(lineStart, index);
  const after = text.slice(index + length, lineEnd);
  if (/MAIL\s+FROM\s*:?\s*<?$/i.test(before) || /\bfrom\s*:?\s*<?$/i.test(before)) return null;
  if (/(mailto:|https?:\/\/\S*)$/i.test(before)) return null;
  // Alone on its line, optionally quoted, labelled, or followed by a colon or a short note.
  const label =
    /^\s*(?:(?:final-|original-)?recipient(?:\(s\))?|failed recipient|to|rcpt|rfc822|address|adresse|empfänger|empfaenger|destinataire|destinatario)?\s*[:;]?\s*["'<(]*\s*$/i;
  if (label.test(before) && /^\s*[>")']*\s*(?::\s*)?(?:\(.*\))?\s*$/.test(after)) return 'line';
  if (/^\s*["'<]*\s*$/.test(before) && /^[>"']*(\s*\((expanded|alias|original recipient)[^)]*\))?:\s*\S/i.test(after)) return 'line';
  if (/RCPT\s+TO\s*:?\s*<?$/i.test(before)) return 'reply';
  if (/\b[245]\d\d[ -](?:[245]\.\d{1,3}\.\d{1,3}\s+)?["'<]*$/.test(before) || /^>?\.\.\./.test(after)) return 'reply';
  if (SENTENCE_BEFORE.test(before)) return 'sentence';
  return 'weak';
}

interface FoundReply {
  response: SmtpResponse;
  /** The reply as it appeared, joined onto one line. */
  raw: string;
}

const CODE = /(?<![\w.:/=@-])#?([245]\d\d)(?=[ :-]|$)/gm;
const CONTEXT =
  /(said|returned|reply|replied|response|responded|answered|error|diagnostic|reason|<<<|remote (host|server)|server|code|rejected|failed)\W{0,12}$/i;
const NOT_A_REPLY = /^[ -]?\s*(bytes|kb|mb|gb|days?|hours?|minutes?|seconds?|ms|messages?|times|recipients?)\b/i;

/** The most reply-like `NNN [x.y.z] text` in a segment, with its continuation lines. */
export function bestReply(segment: string): FoundReply | undefined {
  let best: { index: number; score: number } | undefined;
  for (const m of segment.matchAll(CODE)) {
    const index = m.index!;
    const after = segment.slice(index + m[0].length, index + m[0].length + 40);
    if (NOT_A_REPLY.test(after)) continue;
    const lineStart = segment.lastIndexOf('\n', index - 1) + 1;
    const before = segment.slice(Math.max(lineStart, index - 60), index);
    let score = 0;
    if (/^[ -]#?[245]\.\d{1,3}\.\d{1,3}\b/.test(after)) score += 3;
    if (/^\s*(?:[<>]{3}\s*|['"(#]\s*)?$/.test(segment.slice(lineStart, index))) score += 2;
    if (CONTEXT.test(before)) score += 2;
    if (score >= 2 && (!best || score > best.score)) best = { index, score };
  }
  if (!best) return undefined;
  const raw = replyText(segment, best.index);
  const response = parseSmtpResponse(splitInlineContinuations(raw));
  if (!response) return undefined;
  if (!response.enhanced) {
    const enhanced = findEnhancedCode(response.text);
    if (enhanced) response.enhanced = enhanced;
  }
  const command = /\(in reply to (?:end of )?([A-Z]+(?: [A-Z]+)?) command\)/i.exec(raw);
  if (command) response.command = command[1]!.toUpperCase();
  else {
    // Exim: "SMTP error from remote mail server after end of data:" on the line(s) before.
    const after = /\bafter (end of data|DATA|RCPT TO|MAIL FROM)\b[\s\S]{0,160}$/i.exec(
      segment.slice(Math.max(0, best.index - 240), best.index),
    );
    if (after) response.command = after[1]!.toUpperCase().replace(/^END OF /, '');
  }
  return { response, raw };
}

/** The reply starting at `index`: its line plus continuation lines, up to a blank line. */
function replyText(segment: string, index: number): string {
  const lines = segment.slice(index).split(/\r?\n/);
  const out: string[] = [lines[0]!];
  for (let i = 1; i < lines.length && out.length < 20; i++) {
    const line = lines[i]!;
    if (line.trim() === '') break;
    // A new recipient paragraph starts at the margin; an indented `<addr>:` continues the reply.
    if (/^(<[^>]+@[^>]+>:|\s*[^\s@]+@[^\s@]+\s*$|\s*<<<|\s*>>>)/.test(line)) break;
    // A new reply starts (not the `NNN-` continuation of a multi-line one).
    if (/^\s*[245]\d\d[ :]/.test(line) && !/^\s*(<<<\s*)?#?[245]\d\d-/.test(out[out.length - 1]!)) break;
    if (
      /^\s*(Final-Recipient|Action|Status|Reporting-MTA|Original message|-{3,}|Diagnostic information|Giving up on|I'm not going to try again)/i.test(
        line,
      )
    )
      break;
    out.push(line);
  }
  const opened = segment.slice(Math.max(0, index - 2), index);
  let text = out.join('\n');
  // `(reason: 550 …)`, `'550 …'`: drop the closing bracket or quote that belongs to the wrapper.
  if (opened.includes('(')) text = text.replace(/\)\s*$/, '');
  return text
    .replace(/^#/, '')
    .replace(/^([245]\d\d):\s*/, '$1 ')
    .replace(/\s*\(in reply to [^)]*\)\s*/gi, ' ')
    .replace(/['"]?\s*#*\s*$/, '')
    .replace(/^([245]\d\d[ -][^'"]*)['"]$/, '$1')
    .slice(0, 1000)
    .trim();
}

/** The explanation paragraph(s) for a code-less failure, starting after the address. */
function explain(segment: string, address: string): string | undefined {
  const rest = segment.startsWith(address) ? segment.slice(address.length) : segment;
  const paragraphs = rest.split(/\r?\n\s*\r?\n/);
  const texts = paragraphs
    .slice(0, 3)
    .map((p) =>
      p
        .replace(/^[\s>:.)"'-]+/, '')
        .replace(/\s+/g, ' ')
        .trim(),
    )
    .filter((p) => p.length > 3);
  const text = texts.join(' ').slice(0, 1000).trim();
  return text || undefined;
}

/** Whether the recipient's own paragraph holds an explanation (words beyond the address). */
function ownExplanation(segment: string, address: string): boolean {
  const first = segment.slice(address.length).split(/\r?\n\s*\r?\n/)[0] ?? '';
  return /[a-z]{3,}.*[a-z]{3,}/i.test(first.replace(/[<>:]/g, ' '));
}

/** RFC 3464 `delayed` notices written for humans (Postfix, Exchange, Gmail, Sendmail warnings). */
export function isDelayNotice(subject: string, text: string): boolean {
  if (
    /\b(delay(ed)?|warning|still being retried|verzögert|verz[oö]gerung|retard[ée]e?|retrasad[oa])\b/i.test(subject) &&
    !/\b(fail(ed|ure)?|undeliver)/i.test(subject)
  )
    return true;
  return /THIS IS A WARNING ONLY|YOU DO NOT NEED TO RESEND|will (continue to|keep) (try|attempt)ing|will be retried|has not yet been delivered|not been delivered yet|still (be )?(being )?(tried|retried|trying)|delivery (has been|is) delayed|message (is|has been) delayed|Delivery incomplete/i.test(
    text.slice(0, 3000),
  );
}
