/**
 * The message a report is about: bounces and complaints return it (RFC 3464 §2 third part,
 * RFC 5965 §2 third part) as message/rfc822 or text/rfc822-headers, or non-standard MTAs paste it
 * into the text after a marker line. We recover its identifiers so the caller can link the report
 * to what we sent: Message-ID, X-Postwarden-* headers, and the Return-Path that carries our VERP
 * token (decoding VERP is the identity module's job, so it is exposed raw).
 */
import { addressOf, fieldValue, type HeaderField, messageIdOf, parseFields, parseHeaderSection } from './header-fields.js';
import { type MailMessage, partText } from './mail-message.js';

export interface OriginalMessage {
  /** Where the headers were found; `none` when the report returned nothing usable. */
  source: 'message/rfc822' | 'text/rfc822-headers' | 'inline-text' | 'in-reply-to' | 'notification' | 'none';
  messageId?: string;
  from?: string;
  to: string[];
  subject?: string;
  date?: string;
  /** Return-Path of the original when it was returned: our VERP address, undecoded. */
  returnPath?: string;
  /** `x-postwarden-*` headers, lower-case name -> value. */
  postwardenHeaders: Record<string, string>;
  headers: HeaderField[];
}

const ORIGINAL_TYPES = /^(message\/(rfc822|global|partial)|text\/rfc822-headers?|message\/(rfc822|global)-headers)$/;

/**
 * Markers before a returned message pasted as text (Exim, qmail, Sendmail, Exchange, Lotus, German
 * and French MTAs). Matched per line; the headers are read from the first field line after it.
 */
export const RETURNED_MARKERS: readonly RegExp[] = [
  /^\s*-*\s*(This is a copy of|Below this line is a copy of|Original message (follows|headers)|Returned message|Unsent message below|Message headers? follows?|The (header|headers|text) of the original message|Headers? of the original message|Copy of the (original )?message|Original Message Headers|Original message -+|Undelivered message (headers )?(follows|attached))/i,
  /^\s*Original message headers:/i,
  /^\s*-+\s*(Original Message|Forwarded message|Ursprüngliche Nachricht|Originalnachricht|Kopf der (Original)?nachricht|Message d'origine|En-têtes du message d'origine|Mensaje original)\s*-*/i,
  /^\s*-+\s*(The )?original message (was|is) (attached|included|below)/i,
];

export function findOriginalMessage(msg: MailMessage): OriginalMessage {
  for (const part of msg.parts) {
    if (!ORIGINAL_TYPES.test(part.contentType)) continue;
    const headers = parseHeaderSection(partText(part));
    if (headers.length > 0) {
      return describeOriginal(part.contentType.includes('headers') ? 'text/rfc822-headers' : 'message/rfc822', headers);
    }
  }
  const inline = returnedHeadersInText(msg.text);
  if (inline.length > 0) return describeOriginal('inline-text', inline);
  // Some MTAs (Exchange, Gmail) thread the bounce to the original with In-Reply-To/References.
  const replyTo = msg.inReplyTo ?? msg.references[0];
  if (replyTo) return { ...describeOriginal('in-reply-to', []), messageId: messageIdOf(replyTo)! };
  return describeOriginal('none', []);
}

/** Header fields of a returned message pasted into the text, or [] (see RETURNED_MARKERS). */
export function returnedHeadersInText(text: string): HeaderField[] {
  const lines = text.split(/\r?\n/);
  let start = lines.findIndex((l) => RETURNED_MARKERS.some((re) => re.test(l)));
  if (start < 0) {
    // No marker: a block that starts with Received:/Return-Path: is a returned header section.
    start = lines.findIndex((l) => /^\s*(Return-Path|Received|Message-ID):/i.test(l));
    if (start < 0) return [];
    start -= 1;
  }
  const block: string[] = [];
  let seenField = false;
  for (let i = start + 1; i < lines.length && block.length < 400; i++) {
    const line = lines[i]!.replace(/^\s*>\s?/, '').replace(/^ {1,8}(?=[!-9;-~]+:)/, '');
    if (!seenField) {
      if (/^[!-9;-~]+:/.test(line)) seenField = true;
      else continue;
    }
    if (line.trim() === '') break;
    block.push(line);
  }
  return parseFields(block.join('\n'));
}

/** Start offset of the returned message in a bounce's text (so recipients are not taken from it). */
export function returnedMessageOffset(text: string): number {
  let offset = 0;
  for (const line of text.split(/\n/)) {
    if (RETURNED_MARKERS.some((re) => re.test(line))) return offset;
    offset += line.length + 1;
  }
  return text.length;
}

/** The identifiers of an original message from its header fields, however they were found. */
export function describeOriginal(source: OriginalMessage['source'], headers: HeaderField[]): OriginalMessage {
  const out: OriginalMessage = { source, to: [], postwardenHeaders: {}, headers };
  const messageId = messageIdOf(fieldValue(headers, 'message-id'));
  if (messageId) out.messageId = messageId;
  const from = addressOf(fieldValue(headers, 'from'));
  if (from) out.from = from;
  const to = fieldValue(headers, 'to');
  if (to)
    out.to = to
      .split(',')
      .map((t) => addressOf(t))
      .filter((a): a is string => a !== undefined);
  const subject = fieldValue(headers, 'subject');
  if (subject) out.subject = subject;
  const date = fieldValue(headers, 'date');
  if (date) out.date = date;
  const returnPath = fieldValue(headers, 'return-path');
  if (returnPath) out.returnPath = returnPath.replace(/^\s*<|>\s*$/g, '');
  for (const f of headers) {
    if (/^x-postwarden-/i.test(f.name)) out.postwardenHeaders[f.name.toLowerCase()] = f.value;
  }
  return out;
}
