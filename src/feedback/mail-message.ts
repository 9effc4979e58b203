/**
 * The one place MIME is parsed (mailparser's simpleParser). Everything downstream works on this
 * flat, synchronous view: top-level header fields, the human-readable text, and every non-text part
 * with its bytes. `keepDeliveryStatus` keeps message/delivery-status as a part instead of folding it
 * into the text, and message/rfc822 parts stay whole (their headers are the returned original).
 */
import { type AddressObject, type ParsedMail, simpleParser } from 'mailparser';
import { type HeaderField, parseFields } from './header-fields.js';

export interface MailPart {
  /** Lower-case media type (`message/delivery-status`). */
  contentType: string;
  filename?: string;
  /** Decoded bytes (transfer encoding removed). */
  content: Buffer;
}

export interface MailMessage {
  /** Top-level header fields as written (unfolded, not RFC 2047-decoded). */
  headers: HeaderField[];
  /** Top-level media type and its parameters (`multipart/report`, `{ 'report-type': … }`). */
  contentType: string;
  contentTypeParams: Record<string, string>;
  subject: string;
  from: string[];
  to: string[];
  messageId?: string;
  inReplyTo?: string;
  references: string[];
  date?: string;
  /** Plain text (mailparser derives it from HTML when only HTML was sent). */
  text: string;
  parts: MailPart[];
}

/** Parses an RFC 5322 message. Never throws on malformed MIME (mailparser is lenient). */
export async function readMessage(raw: Buffer | string): Promise<MailMessage> {
  const parsed: ParsedMail = await simpleParser(raw, { keepDeliveryStatus: true, skipImageLinks: true });
  const headers = parseFields(parsed.headerLines.map((h) => h.line).join('\r\n'));
  const ct = parsed.headers.get('content-type') as { value?: string; params?: Record<string, string> } | string | undefined;
  const contentType = (typeof ct === 'string' ? ct : (ct?.value ?? 'text/plain')).toLowerCase();
  const contentTypeParams: Record<string, string> = {};
  if (ct && typeof ct !== 'string') for (const [k, v] of Object.entries(ct.params ?? {})) contentTypeParams[k.toLowerCase()] = String(v);
  const refs = parsed.references;
  const msg: MailMessage = {
    headers,
    contentType,
    contentTypeParams,
    subject: parsed.subject ?? '',
    from: addresses(parsed.from),
    to: addresses(parsed.to),
    references: Array.isArray(refs) ? refs : refs ? [refs] : [],
    text: parsed.text ?? '',
    parts: parsed.attachments.map((a) => ({
      contentType: (a.contentType ?? 'application/octet-stream').toLowerCase(),
      ...(a.filename ? { filename: a.filename } : {}),
      content: a.content,
    })),
  };
  // mailparser renders an *inline* message/rfc822 part into the text with only a few of its
  // headers (ARF reporters often send it inline), losing Message-ID and our X- headers. Recover
  // such parts from the raw structure.
  if (!msg.parts.some((p) => EMBEDDED.test(p.contentType))) {
    const source = typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw;
    msg.parts.push(...embeddedMessages(source.toString('latin1'), 0));
  }
  if (parsed.messageId) msg.messageId = parsed.messageId;
  if (parsed.inReplyTo) msg.inReplyTo = parsed.inReplyTo;
  if (parsed.date) msg.date = parsed.date.toISOString();
  return msg;
}

const EMBEDDED = /^(message\/(rfc822|global)|text\/rfc822-headers|message\/(rfc822|global)-headers)$/;

/**
 * Embedded messages found by walking the MIME structure of the raw source (RFC 2046 §5.1
 * boundaries). Only what mailparser folds away is looked for; bytes are kept as Latin-1 so the
 * part's content round-trips.
 */
function embeddedMessages(raw: string, depth: number): MailPart[] {
  if (depth > 8) return [];
  const split = raw.search(/\r?\n\r?\n/);
  if (split < 0) return [];
  const headers = parseFields(raw.slice(0, split));
  const body = raw.slice(split).replace(/^\r?\n\r?\n/, '');
  const ct = (headers.find((h) => h.name.toLowerCase() === 'content-type')?.value ?? 'text/plain').trim();
  const type = ct.split(';')[0]!.trim().toLowerCase();
  if (type.startsWith('multipart/')) {
    const boundary = /boundary\s*=\s*(?:"([^"]+)"|([^\s;]+))/i.exec(ct);
    const b = boundary?.[1] ?? boundary?.[2];
    if (!b) return [];
    const escaped = b.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const pieces = body.split(new RegExp(`^--${escaped}(?:--)?[ \\t]*\\r?$`, 'm')).slice(1, -1);
    return pieces.flatMap((piece) => embeddedMessages(piece.replace(/^\r?\n/, ''), depth + 1));
  }
  if (!EMBEDDED.test(type)) return [];
  const cte = headers
    .find((h) => h.name.toLowerCase() === 'content-transfer-encoding')
    ?.value.trim()
    .toLowerCase();
  const content = cte === 'base64' ? Buffer.from(body.replace(/[^A-Za-z0-9+/=]/g, ''), 'base64') : Buffer.from(body, 'latin1');
  return [{ contentType: type, content }];
}

function addresses(v: AddressObject | AddressObject[] | undefined): string[] {
  const list = Array.isArray(v) ? v : v ? [v] : [];
  const out: string[] = [];
  for (const obj of list) {
    for (const a of obj.value) {
      if (a.address) out.push(a.address);
      for (const g of a.group ?? []) if (g.address) out.push(g.address);
    }
  }
  return out;
}

/** Text of a part, decoded as UTF-8 with a Latin-1 fallback for the byte soup some MTAs send. */
export function partText(part: MailPart): string {
  return decodeText(part.content);
}

export function decodeText(bytes: Buffer): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return new TextDecoder('windows-1252').decode(bytes);
  }
}
