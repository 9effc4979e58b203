import libmime from 'libmime';
import addressparser from 'nodemailer/lib/addressparser';
import { type Mailbox, parseAddress, type Stream, streams } from '../core/index.js';

/**
 * The little a submission server must know of a message it relays: the header block only. The body
 * is never parsed (it is stored and sent as is, apart from what RFC 6409 §8 lets a submission server
 * add: Message-ID and Date when missing; Bcc is removed so it never leaks to recipients).
 */
export interface RawHeaders {
  from?: Mailbox;
  fromProblem?: string;
  subject: string;
  messageId?: string;
  hasDate: boolean;
  /** X-Postwarden-Stream, when the client chose a stream. */
  stream?: Stream;
  streamProblem?: string;
  /** X-Postwarden-Classification, when the client classified the message (docs/classification.md). */
  classification?: string;
}

function splitHead(raw: Buffer): { head: string; bodyStart: number; eol: string } {
  const crlf = raw.indexOf('\r\n\r\n');
  const lf = raw.indexOf('\n\n');
  if (crlf >= 0 && (lf < 0 || crlf < lf)) return { head: raw.subarray(0, crlf).toString('utf8'), bodyStart: crlf + 4, eol: '\r\n' };
  if (lf >= 0) return { head: raw.subarray(0, lf).toString('utf8'), bodyStart: lf + 2, eol: '\n' };
  return { head: raw.toString('utf8'), bodyStart: raw.length, eol: '\r\n' };
}

/** Header fields in order, unfolded (RFC 5322 §2.2.3), with their raw lines kept. */
function fields(head: string): { name: string; value: string; raw: string }[] {
  const out: { name: string; value: string; raw: string }[] = [];
  for (const line of head.split(/\r?\n/)) {
    if (/^[ \t]/.test(line) && out.length) {
      const last = out[out.length - 1]!;
      last.value += ` ${line.trim()}`;
      last.raw += `\r\n${line}`;
      continue;
    }
    const i = line.indexOf(':');
    if (i <= 0) continue;
    out.push({ name: line.slice(0, i).trim().toLowerCase(), value: line.slice(i + 1).trim(), raw: line });
  }
  return out;
}

export function readHeaders(raw: Buffer): RawHeaders {
  const list = fields(splitHead(raw).head);
  const get = (n: string) => list.filter((f) => f.name === n);
  const result: RawHeaders = { subject: '', hasDate: get('date').length > 0 };
  const froms = get('from');
  if (froms.length !== 1)
    result.fromProblem = froms.length ? 'the message has more than one From header' : 'the message has no From header';
  else {
    const addrs = addressparser(froms[0]!.value, { flatten: true });
    const first = addrs[0];
    const parsed = first ? parseAddress(first.address) : undefined;
    if (addrs.length !== 1 || !parsed?.ok) result.fromProblem = 'the From header must hold exactly one valid address';
    else result.from = first?.name ? { ...parsed.mailbox, name: libmime.decodeWords(first.name) } : parsed.mailbox;
  }
  const subject = get('subject')[0];
  if (subject) result.subject = libmime.decodeWords(subject.value);
  const stream = get('x-postwarden-stream')[0]?.value.toLowerCase();
  if (stream !== undefined) {
    if ((streams as readonly string[]).includes(stream)) result.stream = stream as Stream;
    else result.streamProblem = `X-Postwarden-Stream must be one of ${streams.join(', ')}`;
  }
  const mid = get('message-id')[0];
  if (mid) result.messageId = mid.value;
  const classification = get('x-postwarden-classification')[0]?.value.toLowerCase();
  if (classification) result.classification = classification;
  return result;
}

/**
 * Adds Message-ID and Date when missing and drops Bcc, keeping everything else byte for byte.
 * `headers` are added on top and `drop` names (lower-case) further fields to remove.
 */
export function prepareSubmitted(
  raw: Buffer,
  add: { messageIdHeader: string; date: Date; headers?: [string, string][]; drop?: string[] },
): { raw: Buffer; messageIdHeader: string } {
  const { head, bodyStart, eol } = splitHead(raw);
  const list = fields(head);
  const dropped = new Set(['bcc', ...(add.drop ?? [])]);
  const kept = list.filter((f) => !dropped.has(f.name)).map((f) => f.raw.replace(/\r\n/g, eol));
  const existingId = list.find((f) => f.name === 'message-id')?.value;
  const extra: string[] = (add.headers ?? []).map(([name, value]) => `${name}: ${value}`);
  if (!existingId) extra.push(`Message-ID: ${add.messageIdHeader}`);
  if (!list.some((f) => f.name === 'date')) extra.push(`Date: ${add.date.toUTCString().replace('GMT', '+0000')}`);
  if (!extra.length && kept.length === list.length) return { raw, messageIdHeader: existingId ?? add.messageIdHeader };
  const newHead = [...extra, ...kept].join(eol);
  return {
    raw: Buffer.concat([Buffer.from(newHead + eol + eol, 'utf8'), raw.subarray(bodyStart)]),
    messageIdHeader: existingId ?? add.messageIdHeader,
  };
}
