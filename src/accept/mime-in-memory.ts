import * as base64 from 'nodemailer/lib/base64';
import type MimeNode from 'nodemailer/lib/mime-node';
import * as qp from 'nodemailer/lib/qp';

/**
 * nodemailer's `MimeNode.build()` writes a message through streams: per node a PassThrough for
 * its content, an encoder, pipelines and end-of-stream watchers, then the newline transforms. For
 * an API send that was the largest single share of the accept path in profiles (0.2 ms of the main
 * thread and ~67 KB of short-lived allocation per message, bench/README.md), for a few KB of text.
 *
 * When every node's content is already in memory (text, HTML, attachments given as bytes: what
 * an API send holds), this writes the same bytes in one pass with nodemailer's own header builder
 * and encoders, as its streams would: headers, blank line, content encoded as
 * `getTransferEncoding()` says, multipart children between boundaries, then a final CRLF and every
 * bare LF made CRLF (its LastNewline and LeWindows). Anything else answers undefined and goes
 * through `build()`: transforms or DKIM on the root, raw nodes, streamed, file or URL content,
 * encodings other than 7bit, quoted-printable (text parts) and base64, and quoted-printable input
 * the stream encoder splits (over 64 KB, or ending in whitespace). test/accept/
 * mime-in-memory.test.ts holds the two to the same bytes over generated messages.
 */
export function buildInMemory(root: MimeNode): Buffer | undefined {
  const node = root as unknown as Internals;
  if (node._transforms.length || node._processFuncs.length) return undefined;
  if (node.newline && !WINDOWS_NEWLINE.includes(String(node.newline).toLowerCase())) return undefined;
  if (!inMemory(node)) return undefined;
  const parts: Buffer[] = [];
  write(node, parts);
  return finish(parts, Boolean(node.newline));
}

/**
 * The message from its written parts as build()'s last stages leave it: a final line break unless
 * the last byte written ends one (LastNewline; an empty part writes none), then with `windows` every
 * bare LF made CRLF (LeWindows).
 */
export function finish(parts: Buffer[], windows: boolean): Buffer {
  const last = parts.findLast((p) => p.length > 0);
  const lastByte = last?.[last.length - 1];
  if (lastByte === 0x0d) parts.push(Buffer.from('\n'));
  else if (lastByte !== 0x0a) parts.push(Buffer.from('\r\n'));
  const raw = Buffer.concat(parts);
  return windows ? crlf(raw) : raw;
}

/**
 * Whether nodemailer's quoted-printable stream encoder gives `wrap(encode(bytes))` for this text
 * content: it holds trailing whitespace back for a slice of its own, and splits input over 64 KB.
 */
export function qpInOneSlice(bytes: Buffer): boolean {
  const last = bytes[bytes.length - 1];
  return bytes.length <= QP_SLICE && last !== 0x20 && last !== 0x09;
}

/** A part's content as `build()` encodes it, for the encodings inMemory() accepts. */
export function encodeContent(bytes: Buffer, encoding: string): Buffer {
  if (encoding === 'base64') return Buffer.from(base64.wrap(base64.encode(bytes), 76), 'ascii');
  if (encoding === 'quoted-printable') return Buffer.from(qp.wrap(qp.encode(bytes), 76), 'ascii');
  return bytes;
}

/** The MimeNode fields `build()` reads that nodemailer's typings do not declare. */
type Internals = Omit<MimeNode, 'childNodes'> & {
  _transforms: unknown[];
  _processFuncs: unknown[];
  _raw?: unknown;
  newline?: unknown;
  childNodes: Internals[];
};

const WINDOWS_NEWLINE = ['win', 'windows', 'dos', '\r\n'];
/** nodemailer's quoted-printable encoder works in slices of this many bytes (qp/index.js ENCODE_SLICE_SIZE). */
const QP_SLICE = 64 * 1024;

function contentBytes(content: unknown): Buffer | undefined {
  if (typeof content === 'string') return Buffer.from(content, 'utf-8');
  return Buffer.isBuffer(content) ? content : undefined;
}

/**
 * The node's declared type, as buildHeaders() will read it (it sets `contentType` and `multipart`
 * only then, and is not called before the tree is known to be writable here).
 */
function declaredType(node: Internals): string {
  const h = node.getHeader('Content-Type') as unknown;
  const value = typeof h === 'string' ? h : ((h as { value?: string } | undefined)?.value ?? '');
  return value.split(';')[0]!.trim().toLowerCase();
}

function inMemory(node: Internals): boolean {
  if (node._raw) return false;
  const type = declaredType(node);
  if (node.content) {
    const bytes = contentBytes(node.content);
    if (!bytes) return false;
    const encoding = node.getTransferEncoding();
    if (encoding === 'quoted-printable') {
      // Outside text/* the stream encoder works in binary mode.
      if (!type.startsWith('text/') || !qpInOneSlice(bytes)) return false;
    } else if (encoding !== '7bit' && encoding !== 'base64') {
      return false;
    }
  }
  return !type.startsWith('multipart/') || node.childNodes.every(inMemory);
}

function write(node: Internals, out: Buffer[]): void {
  out.push(Buffer.from(`${node.buildHeaders()}\r\n\r\n`));
  if (node.content) out.push(encodeContent(contentBytes(node.content)!, String(node.getTransferEncoding())));
  if (!node.multipart) return;
  node.childNodes.forEach((child, i) => {
    out.push(Buffer.from(`${i ? '\r\n' : ''}--${node.boundary}\r\n`));
    write(child, out);
  });
  out.push(Buffer.from(`\r\n--${node.boundary}--\r\n`));
}

/** Every LF not preceded by CR becomes CRLF (nodemailer's LeWindows). */
function crlf(raw: Buffer): Buffer {
  let bare = 0;
  for (let i = raw.indexOf(0x0a); i >= 0; i = raw.indexOf(0x0a, i + 1)) if (i === 0 || raw[i - 1] !== 0x0d) bare++;
  if (!bare) return raw;
  const out = Buffer.allocUnsafe(raw.length + bare);
  let o = 0;
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === 0x0a && (i === 0 || raw[i - 1] !== 0x0d)) out[o++] = 0x0d;
    out[o++] = raw[i]!;
  }
  return out;
}
