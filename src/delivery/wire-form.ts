import { encode as qpEncode, wrap as qpWrap } from 'nodemailer/lib/qp';

/**
 * The form a stored message takes on the wire to one receiver, made before it is DKIM-signed (a
 * signature over bytes that a relay must then re-encode breaks).
 *
 * - RFC 5322 §2.1.1 / RFC 5321 §4.5.3.1.6: no line may exceed 998 characters. A body part whose
 *   identity-encoded content (7bit, 8bit, binary or none) has a longer line is re-encoded:
 *   quoted-printable for text, base64 for anything else (RFC 2045 §6), both wrap at 76.
 * - RFC 6152: 8-bit content may only go to a receiver that offered 8BITMIME, declared with
 *   BODY=8BITMIME. Toward a receiver without it, every 8-bit part is re-encoded the same way, so
 *   the message becomes 7-bit (RFC 6152 §3 leaves the conversion to the client).
 *
 * The MIME tree is walked on the raw bytes (latin1 strings, one char per byte): only the parts that
 * need it change; everything else, boundaries and the other parts' bytes, stays as stored. Header
 * fields are not touched here: header lines are made legal where the message is built or accepted.
 */
export interface WireForm {
  raw: Buffer;
  /** The body still carries 8-bit bytes: send with BODY=8BITMIME. */
  eightBit: boolean;
  /** Parts that were re-encoded (0: the stored bytes go out as they are). */
  reencoded: number;
}

const MAX_LINE = 998;
const IDENTITY = new Set(['', '7bit', '8bit', 'binary']);

export function wireForm(raw: Buffer, opts: { eightBitMime: boolean }): WireForm {
  const text = raw.toString('latin1');
  if (!needsWork(text, opts.eightBitMime)) return { raw, eightBit: hasEightBit(bodyOf(text)), reencoded: 0 };
  const counter = { n: 0 };
  const out = entity(text, opts.eightBitMime, counter, true);
  return { raw: Buffer.from(out, 'latin1'), eightBit: hasEightBit(bodyOf(out)), reencoded: counter.n };
}

/** Fast path: most messages have neither 8-bit bytes (where they matter) nor long lines. */
function needsWork(text: string, eightBitMime: boolean): boolean {
  if (!eightBitMime && hasEightBit(bodyOf(text))) return true;
  return hasLongLine(text);
}

function hasEightBit(s: string): boolean {
  return /[\x80-\xff]/.test(s);
}

function hasLongLine(s: string): boolean {
  let start = 0;
  while (start < s.length) {
    let end = s.indexOf('\n', start);
    if (end < 0) end = s.length;
    const len = end - start - (s[end - 1] === '\r' ? 1 : 0);
    if (len > MAX_LINE) return true;
    start = end + 1;
  }
  return false;
}

/** Header block and body of an entity: split at the first empty line. */
function split(s: string): { head: string; sep: string; body: string } {
  const m = /\r?\n\r?\n/.exec(s);
  if (!m) return { head: s, sep: '', body: '' };
  // The head keeps its last line break; `sep` is the empty line.
  const headEnd = m.index + (s[m.index] === '\r' ? 2 : 1);
  return { head: s.slice(0, headEnd), sep: s.slice(headEnd, m.index + m[0].length), body: s.slice(m.index + m[0].length) };
}

function bodyOf(s: string): string {
  return split(s).body;
}

/** The unfolded value of the first header field `name` in a header block. */
function headerValue(head: string, name: string): string | undefined {
  const re = new RegExp(`^${name}[ \\t]*:(.*(?:\\r?\\n[ \\t].*)*)`, 'im');
  const m = re.exec(head);
  return m ? m[1]!.replace(/\r?\n/g, '').trim() : undefined;
}

function mediaType(head: string): { type: string; boundary?: string } {
  const ct = headerValue(head, 'content-type') ?? 'text/plain';
  const type = (ct.split(';')[0] ?? '').trim().toLowerCase() || 'text/plain';
  const b = /;\s*boundary\s*=\s*(?:"([^"]+)"|([^\s;]+))/i.exec(ct);
  return { type, ...(b ? { boundary: b[1] ?? b[2]! } : {}) };
}

function entity(s: string, eightBitMime: boolean, counter: { n: number }, top: boolean): string {
  const { head, sep, body } = split(s);
  const { type, boundary } = mediaType(head);
  const cte = (headerValue(head, 'content-transfer-encoding') ?? '').toLowerCase();
  if (type.startsWith('multipart/') && boundary) return head + sep + multipart(body, boundary, eightBitMime, counter);
  // RFC 2046 §5.2.1: an encapsulated message is never encoded itself; its own parts are.
  if (type === 'message/rfc822' && IDENTITY.has(cte)) return head + sep + entity(body, eightBitMime, counter, false);
  if (!IDENTITY.has(cte)) return s;
  if (!hasLongLine(body) && (eightBitMime || !hasEightBit(body))) return s;
  counter.n++;
  const bytes = Buffer.from(body, 'latin1');
  const encoded = type.startsWith('text/') ? qpText(bytes) : base64Lines(bytes);
  const encoding = type.startsWith('text/') ? 'quoted-printable' : 'base64';
  return withEncoding(head, encoding, top) + sep + encoded;
}

/** Quoted-printable with the text's own line breaks kept as hard breaks (RFC 2045 §6.7 rule 4). */
function qpText(bytes: Buffer): string {
  const crlf = bytes.toString('latin1').replace(/\r?\n/g, '\r\n');
  return qpWrap(qpEncode(Buffer.from(crlf, 'latin1')), 76);
}

function base64Lines(bytes: Buffer): string {
  return (bytes.toString('base64').match(/.{1,76}/g) ?? []).join('\r\n');
}

/** Replaces (or adds) Content-Transfer-Encoding; a top-level entity also gets MIME-Version. */
function withEncoding(head: string, encoding: string, top: boolean): string {
  const nl = head.includes('\r\n') ? '\r\n' : '\n';
  const re = /^content-transfer-encoding[ \t]*:.*(?:\r?\n[ \t].*)*\r?\n/im;
  let out = re.test(head)
    ? head.replace(re, `Content-Transfer-Encoding: ${encoding}${nl}`)
    : `${head}Content-Transfer-Encoding: ${encoding}${nl}`;
  if (top && !/^mime-version[ \t]*:/im.test(out)) out = `${out}MIME-Version: 1.0${nl}`;
  return out;
}

/**
 * RFC 2046 §5.1.1: parts sit between delimiter lines `--boundary`, the last one `--boundary--`;
 * the line break before a delimiter belongs to it. Preamble and epilogue are kept as they are.
 */
function multipart(body: string, boundary: string, eightBitMime: boolean, counter: { n: number }): string {
  const esc = boundary.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const delimiter = new RegExp(`(^|\\r?\\n)--${esc}(--)?[ \\t]*(\\r?\\n|$)`, 'g');
  let out = '';
  let last = 0;
  let inPart = false;
  for (let m = delimiter.exec(body); m; m = delimiter.exec(body)) {
    const chunk = body.slice(last, m.index);
    out += inPart ? entity(chunk, eightBitMime, counter, false) : chunk;
    out += m[0];
    last = m.index + m[0].length;
    if (m[2]) {
      out += body.slice(last);
      return out;
    }
    inPart = true;
  }
  // No closing delimiter: what follows the last one is still a part.
  const rest = body.slice(last);
  return out + (inPart ? entity(rest, eightBitMime, counter, false) : rest);
}
