import { createHash } from 'node:crypto';
import MailComposer from 'nodemailer/lib/mail-composer';
import { encodeWord } from 'nodemailer/lib/mime-funcs';
import { type FieldError, type Mailbox, validationError } from '../core/index.js';
import { buildInMemory } from './mime-in-memory.js';
import { writeMessage } from './mime-writer.js';
import type { SendRequest } from './send-request.js';

/**
 * Builds the RFC 5322 message for an API send: nodemailer's composer's bytes (MIME structure,
 * encodings, line lengths, attachments), written directly for the plain shapes (mime-writer.ts).
 * Bcc is left out of the headers; it only lives in the envelope.
 */
export async function composeMessage(req: SendRequest, ids: { messageIdHeader: string; date: Date }): Promise<Buffer> {
  const { subject, headers } = legalHeaderValues(req);
  const raw =
    writeMessage(req, subject, headers, ids, () => boundaryFor(req)) ?? (await withComposer(req, subject, headers, ids, boundaryFor(req)));
  checkHeaderLines(raw);
  return raw;
}

const fmt = (m: Mailbox) => (m.name ? { name: m.name, address: m.address } : m.address);

export async function withComposer(
  req: SendRequest,
  subject: string,
  headers: Record<string, string>,
  ids: { messageIdHeader: string; date: Date },
  baseBoundary: string,
): Promise<Buffer> {
  const composer = new MailComposer({
    from: fmt(req.from),
    to: req.to.map(fmt),
    cc: req.cc.map(fmt),
    replyTo: req.replyTo.map(fmt),
    subject,
    ...(req.text !== undefined ? { text: req.text } : {}),
    ...(req.html !== undefined ? { html: req.html } : {}),
    headers,
    messageId: ids.messageIdHeader,
    date: ids.date,
    baseBoundary,
    // RFC 5322 §2.3: CRLF ends every line. Without this a text with bare LFs (a generated text
    // part, JSON "\n") is stored with them and only becomes CRLF on the SMTP wire, so the stored
    // message (what the audit and the dry run show) would not be the one sent.
    newline: 'windows',
    attachments: req.attachments.map((a) => ({
      filename: a.filename,
      content: a.content,
      ...(a.contentType ? { contentType: a.contentType } : {}),
      ...(a.contentId ? { cid: a.contentId } : {}),
    })),
  });
  const root = composer.compile();
  return buildInMemory(root) ?? (await root.build());
}

/**
 * The multipart boundary's shared part, from a digest of the content instead of nodemailer's
 * random bytes: the same request composes to the same bytes, so the dry run's MIME is the MIME
 * that is sent (apart from Date and Message-ID). RFC 2046 §5.1.1 asks that a boundary not occur in
 * the parts it separates; a digest of those parts cannot be written inside them.
 */
function boundaryFor(req: SendRequest): string {
  const h = createHash('sha256');
  for (const part of [req.subject, req.text ?? '', req.html ?? '']) h.update(part).update('\0');
  for (const a of req.attachments) h.update(a.filename).update('\0').update(a.content).update('\0');
  return h.digest('hex').slice(0, 16);
}

/** RFC 5322 §2.1.1: a line is at most 998 characters, CRLF excluded. */
const MAX_LINE = 998;

/**
 * Header fields whose value RFC 2047 §5 lets us write as encoded-words: unstructured ones and
 * extension (`X-`) fields. Others (References, List-*, …) are structured: a word too long for a line
 * cannot be made legal there, and the request is refused.
 */
const encodable = (name: string): boolean => /^(subject|comments|x-.*)$/i.test(name);

/** A value folds only at whitespace (RFC 5322 §2.2.3); the first word shares its line with the name. */
function fitsWhenFolded(name: string, value: string): boolean {
  return value.split(/[ \t]+/).every((word, i) => (i === 0 ? name.length + 2 : 1) + word.length <= MAX_LINE);
}

/**
 * Header values the composer can fold as they are, or else RFC 2047 encoded-words (Q, at most 75
 * characters each, separated by spaces so they fold): the value reads the same once decoded. A
 * structured field that cannot be folded is refused with its field path.
 */
function legalHeaderValues(req: SendRequest): { subject: string; headers: Record<string, string> } {
  const errors: FieldError[] = [];
  const legal = (name: string, value: string, path: string): string => {
    if (fitsWhenFolded(name, value)) return value;
    if (encodable(name)) return encodeWord(value, 'Q', 52);
    errors.push({
      path,
      message: `has a word too long for a ${MAX_LINE}-character line and cannot be folded (RFC 5322 §2.1.1); structured fields cannot be encoded (RFC 2047 §5)`,
    });
    return value;
  };
  const subject = legal('Subject', req.subject, '/subject');
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    headers[name] = legal(name, value, `/headers/${name.replace(/~/g, '~0').replace(/\//g, '~1')}`);
  }
  if (errors.length) throw validationError(errors);
  return { subject, headers };
}

/** The composed header block has no line over 998 characters (a last guard: nothing long goes out). */
function checkHeaderLines(raw: Buffer): void {
  const end = raw.indexOf('\r\n\r\n');
  const head = raw.subarray(0, end < 0 ? raw.length : end).toString('latin1');
  const long = head.split('\r\n').find((l) => l.length > MAX_LINE);
  if (long) {
    const name = /^([^:\s]+):/.exec(long)?.[1];
    throw validationError([
      {
        path: name ? `/headers/${name}` : '/headers',
        message: `makes a header line of ${long.length} characters (RFC 5322 §2.1.1: at most ${MAX_LINE})`,
      },
    ]);
  }
}
