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

/**
 * Parses an RFC 5322 message. Never throws on malformed MIME (mailparser is lenient). Line endings
 * are normalised first (see `normaliseLineEndings`), so everything downstream sees one form.
 */
export async function readMessage(input: Buffer | string): Promise<MailMessage> {
  const raw = normaliseLineEndings(typeof input === 'string' ? Buffer.from(input, 'utf8') : input);
  const parsed: ParsedMail = await simpleParser(raw, { keepDeliveryStatus: true, skipImageLinks: true });
  // mailparser's view of a damaged message can lack fields its types promise (a part without a
  // content type, a header repeated as a list): every value is checked before it is used.
  const headers = parseFields((parsed.headerLines ?? []).map((h) => str(h?.line)).join('\n'));
  const ct = parsed.headers?.get('content-type') as { value?: unknown; params?: Record<string, unknown> } | string | undefined;
  const contentType = (typeof ct === 'string' ? ct : str(ct?.value) || 'text/plain').toLowerCase();
  const contentTypeParams: Record<string, string> = {};
  if (ct && typeof ct === 'object' && ct.params && typeof ct.params === 'object')
    for (const [k, v] of Object.entries(ct.params)) contentTypeParams[k.toLowerCase()] = String(v);
  const refs = parsed.references;
  const msg: MailMessage = {
    headers,
    contentType,
    contentTypeParams,
    subject: str(parsed.subject),
    from: addresses(parsed.from),
    to: addresses(parsed.to),
    references: (Array.isArray(refs) ? refs : refs ? [refs] : []).filter((r): r is string => typeof r === 'string'),
    // A base64 or quoted-printable body decodes to whatever line endings its writer used.
    text: str(parsed.text).replace(/\r\n?/g, '\n'),
    parts: (parsed.attachments ?? []).map((a) => ({
      contentType: (str(a?.contentType) || 'application/octet-stream').toLowerCase(),
      ...(typeof a?.filename === 'string' && a.filename ? { filename: a.filename } : {}),
      content: Buffer.isBuffer(a?.content) ? a.content : Buffer.alloc(0),
    })),
  };
  // mailparser renders an *inline* message/rfc822 part into the text with only a few of its
  // headers (ARF reporters often send it inline), losing Message-ID and our X- headers. Recover
  // such parts from the raw structure.
  if (!msg.parts.some((p) => EMBEDDED.test(p.contentType))) {
    msg.parts.push(...embeddedMessages(raw.toString('latin1'), 0));
  }
  if (typeof parsed.messageId === 'string' && parsed.messageId) msg.messageId = parsed.messageId;
  if (typeof parsed.inReplyTo === 'string' && parsed.inReplyTo) msg.inReplyTo = parsed.inReplyTo;
  if (parsed.date instanceof Date && !Number.isNaN(parsed.date.getTime())) msg.date = parsed.date.toISOString();
  return msg;
}

/**
 * CRLF (RFC 5322 §2.1), LF (Unix mbox, maildir) and bare CR (old Mac exports) all become LF, so a
 * message reads the same whatever wrote it to disk. Bare CR would otherwise make the whole message
 * one header line. Done once, here, on the bytes: CR and LF are single bytes in every charset a
 * message may declare (binary-encoded parts with meaningful CR bytes are not used by bounces).
 */
export function normaliseLineEndings(bytes: Buffer): Buffer {
  if (!bytes.includes(0x0d)) return bytes;
  const out = Buffer.alloc(bytes.length);
  let n = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b === 0x0d) {
      out[n++] = 0x0a;
      if (bytes[i + 1] === 0x0a) i++;
    } else out[n++] = b;
  }
  return out.subarray(0, n);
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

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

function addresses(v: AddressObject | AddressObject[] | undefined): string[] {
  const list = Array.isArray(v) ? v : v ? [v] : [];
  const out: string[] = [];
  for (const obj of list) {
    for (const a of Array.isArray(obj?.value) ? obj.value : []) {
      if (typeof a?.address === 'string' && a.address) out.push(a.address);
      for (const g of Array.isArray(a?.group) ? a.group : []) if (typeof g?.address === 'string' && g.address) out.push(g.address);
    }
  }
  return out;
}

/** Text of a part, decoded as UTF-8 with a Latin-1 fallback for the byte soup some MTAs send. */
export function partText(part: MailPart): string {
  return decodeText(part.content).replace(/\r\n?/g, '\n');
}

export function decodeText(bytes: Buffer): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return new TextDecoder('windows-1252').decode(bytes);
  }
}
