import { buildHeaderValue, foldLines, hasLongerLines, isPlainText } from 'nodemailer/lib/mime-funcs';
import MimeNode from 'nodemailer/lib/mime-node';
import { isPlainHost, type Mailbox } from '../core/index.js';
import { encodeContent, finish, qpInOneSlice } from './mime-in-memory.js';
import type { SendRequest } from './send-request.js';

/**
 * The MIME of the API sends most made in profiles (text, HTML or both, no attachments, headers in
 * plain ASCII), written directly: nodemailer's composer builds a tree of MimeNodes and their header
 * objects, parses every address and header back out of them and encodes what needs none, which was
 * ~40 KB of allocation and ~8 % of the main thread per message (bench/README.md).
 *
 * It writes the bytes `MailComposer(...).compile().build()` writes for the same input, or answers
 * undefined and compose.ts uses the composer: any header text that nodemailer would encode or quote
 * differently (non-ASCII, `"`, `=?`, controls), an address that is not a dot-atom at a plain host,
 * a header name nodemailer treats specially or that collides with another, an empty body part, an
 * attachment. Header lines are folded by nodemailer's own foldLines, and body parts encoded by its
 * encoders, chosen as MimeNode chooses. test/accept/mime-writer.test.ts holds the two to the same
 * bytes over generated requests.
 */
export function writeMessage(
  req: SendRequest,
  subject: string,
  headers: Record<string, string>,
  ids: { messageIdHeader: string; date: Date },
  baseBoundary: () => string,
): Buffer | undefined {
  if (req.attachments.length) return undefined;
  const bodies: Array<[type: string, content: string]> = [];
  if (req.text !== undefined) bodies.push(['text/plain', req.text]);
  if (req.html !== undefined) bodies.push(['text/html', req.html]);
  // The composer leaves out an empty text or HTML (a message with no part is its own shape).
  if (!bodies.length || bodies.some(([, c]) => c === '')) return undefined;
  if (!MESSAGE_ID.test(ids.messageIdHeader)) return undefined;

  const lines: string[] = [];
  const seen = new Set<string>();
  for (const [name, value] of Object.entries(headers)) {
    const key = normalizeKey(name);
    if (seen.has(key) || SPECIAL.has(key) || key.startsWith('Content-') || !isPlainValue(value)) return undefined;
    seen.add(key);
    if (value.trim()) lines.push(`${key}: ${value}`);
  }
  const from = addressList([req.from]);
  const to = addressList(req.to);
  const cc = addressList(req.cc);
  const replyTo = addressList(req.replyTo);
  if (from === undefined || to === undefined || cc === undefined || replyTo === undefined) return undefined;
  if (!isPlainValue(subject)) return undefined;
  lines.push(`From: ${from}`);
  if (to) lines.push(`To: ${to}`);
  if (cc) lines.push(`Cc: ${cc}`);
  if (replyTo) lines.push(`Reply-To: ${replyTo}`);
  if (subject.trim()) lines.push(`Subject: ${subject}`);
  lines.push(`Message-ID: ${ids.messageIdHeader}`, `Date: ${ids.date.toUTCString().replace(/GMT/, '+0000')}`);

  const parts: Buffer[] = [];
  if (bodies.length === 1) {
    const [type, content] = bodies[0]!;
    const body = encodedBody(content);
    if (!body) return undefined;
    lines.push(`Content-Transfer-Encoding: ${body.encoding}`, 'MIME-Version: 1.0', `Content-Type: ${type}; charset=utf-8`);
    parts.push(headerBlock(lines), body.bytes);
  } else {
    // The composer's root is node 1; its boundary is boundaryPrefix '--_NmP', the base and the node id.
    const boundary = `--_NmP-${baseBoundary()}-Part_1`;
    lines.push('MIME-Version: 1.0', `Content-Type: ${buildHeaderValue({ value: 'multipart/alternative', params: { boundary } })}`);
    parts.push(headerBlock(lines));
    for (const [i, [type, content]] of bodies.entries()) {
      const body = encodedBody(content);
      if (!body) return undefined;
      parts.push(Buffer.from(`${i ? '\r\n' : ''}--${boundary}\r\n`));
      parts.push(headerBlock([`Content-Type: ${type}; charset=utf-8`, `Content-Transfer-Encoding: ${body.encoding}`]), body.bytes);
    }
    parts.push(Buffer.from(`\r\n--${boundary}--\r\n`));
  }
  return finish(parts, true);
}

/** Names the composer sets itself or encodes as structured fields (MimeNode.encodeHeaderValue, buildHeaders). */
const SPECIAL = new Set([
  'From',
  'Sender',
  'To',
  'Cc',
  'Bcc',
  'Reply-To',
  'Subject',
  'Date',
  'Message-ID',
  'In-Reply-To',
  'References',
  'MIME-Version',
  'OTP-Token',
]);
const MESSAGE_ID = /^<[\x21-\x3d\x3f-\x7e]+>$/;
/** Printable ASCII that MimeNode writes as it is: a `"` or an `=?` would be made an encoded-word. */
const isPlainValue = (v: string): boolean => /^[\x20\x21\x23-\x7e]*$/.test(v) && !v.includes('=?');
/** A dot-atom of ASCII atext: MimeNode neither quotes nor rewrites it. */
const DOT_ATOM = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+(?:\.[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+)*$/;

const normalizeKey = (name: string): string =>
  (MimeNode.prototype as unknown as { _normalizeHeaderKey(key: string): string })._normalizeHeaderKey(name);
const textEncoding = (value: string): 'Q' | 'B' =>
  (MimeNode.prototype as unknown as { _getTextEncoding(this: object, value: string): 'Q' | 'B' })._getTextEncoding.call({}, value);

/** The addresses as MimeNode writes them; '' for none, undefined when it would write them otherwise. */
function addressList(list: Mailbox[]): string | undefined {
  const out: string[] = [];
  for (const m of list) {
    const at = m.address.lastIndexOf('@');
    if (!DOT_ATOM.test(m.address.slice(0, at)) || !isPlainHost(m.address.slice(at + 1))) return undefined;
    if (!m.name) out.push(m.address);
    else if (/^[\w ]*$/.test(m.name)) out.push(`${m.name} <${m.address}>`);
    else if (/^[\x20-\x7e]*$/.test(m.name)) out.push(`"${m.name.replace(/["\\]/g, '\\$&')}" <${m.address}>`);
    else return undefined;
  }
  return out.join(', ');
}

/** The Content-Transfer-Encoding MimeNode picks for a text part, and the part so encoded. */
function encodedBody(content: string): { encoding: string; bytes: Buffer } | undefined {
  const bytes = Buffer.from(content, 'utf-8');
  const encoding =
    isPlainText(content) && !hasLongerLines(content, 76) ? '7bit' : textEncoding(content) === 'Q' ? 'quoted-printable' : 'base64';
  if (encoding === 'quoted-printable' && !qpInOneSlice(bytes)) return undefined;
  return { encoding, bytes: encodeContent(bytes, encoding) };
}

const headerBlock = (lines: string[]): Buffer => Buffer.from(`${lines.map((l) => foldLines(l, 76)).join('\r\n')}\r\n\r\n`);
