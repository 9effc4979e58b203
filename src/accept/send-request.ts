import addressparser from 'nodemailer/lib/addressparser';
import { parseTemplateRef, type TemplateRef } from '../content/index.js';
import { describeAddressProblem, type FieldError, type Mailbox, parseAddress, type Stream, streams } from '../core/index.js';
import { type EngagementFields, engagementFieldNames, parseEngagementFields } from './engagement-fields.js';
import { normaliseSendVariants, type SendWarning } from './send-variants.js';

/**
 * Turns the JSON of `POST /v1/messages` into a checked message, collecting every problem with its
 * JSON path (`/to/2/email`) rather than stopping at the first. Recipients come in the shapes people
 * send: `"a@x"`, `"Ann <a@x>, b@y"`, `["a@x"]`, `{ "email": "a@x", "name": "Ann" }` or a list of those.
 * Field spellings of other providers (`replyTo`, `html_body`, headers as a list…) are folded in
 * first by send-variants.ts, and the answer names each fold in `warnings`.
 */
export interface Attachment {
  filename: string;
  content: Buffer;
  contentType?: string;
  contentId?: string;
}

export interface SendRequest extends EngagementFields {
  from: Mailbox;
  to: Mailbox[];
  cc: Mailbox[];
  bcc: Mailbox[];
  replyTo: Mailbox[];
  subject: string;
  text?: string;
  html?: string;
  headers: Record<string, string>;
  attachments: Attachment[];
  tags: string[];
  metadata: Record<string, string>;
  stream: Stream;
  /** When to send (ms since the epoch); absent: now. Accept bounds it (accept.ts, maxScheduleDays). */
  sendAt?: number;
  /** Content from a template instead of subject/text/html (rendered at accept time; subject is '' until then). */
  template?: TemplateRef;
  /** The sender's classification (docs/classification.md); tags and DLP checks may raise others. */
  classification?: string;
}

/** Headers the platform writes itself; letting callers set them would break the message or its evidence. */
const reservedHeaders = new Set([
  'from',
  'to',
  'cc',
  'bcc',
  'reply-to',
  'subject',
  'date',
  'message-id',
  'mime-version',
  'content-type',
  'content-transfer-encoding',
  'dkim-signature',
  'return-path',
  'received',
  'sender',
]);
// RFC 5322 §3.6.8: field names are printable ASCII except colon.
const HEADER_NAME = /^[\x21-\x39\x3b-\x7e]{1,76}$/;
const BASE64 = /^[A-Za-z0-9+/\r\n]*={0,2}\s*$/;
const TAG = /^[A-Za-z0-9_.:-]{1,64}$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

export type SendParse = { ok: true; request: SendRequest; warnings: SendWarning[] } | { ok: false; errors: FieldError[] };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * A control character (NUL, CR, LF, …) has no place in an address or a display name. addressparser
 * silently drops some of them (`nu\0l@x` became `nul@x`), which would send to a mailbox nobody asked
 * for, so they are refused before it sees the text.
 */
const CONTROL = /[\x00-\x1f\x7f]/;
const controlProblem = 'must not contain control characters (NUL, CR, LF, TAB, …)';

/**
 * `local@domain` with nothing addressparser treats specially (whitespace, controls, quotes,
 * comments, angle brackets, list and group separators, domain literals, escapes): it would return
 * the string itself as the one address, with no name, so such values (most API sends) skip it.
 * addressparser ran twice per recipient given as a string (the list, then each address): parsing the
 * addresses was ~100 µs per request in CPU profiles, addressparser the larger part.
 * test/accept/bare-address.test.ts holds the equivalence.
 */
export const BARE_ADDRESS = /^[^\s\x00-\x1f\x7f"(),:;<>@[\]\\]+@[^\s\x00-\x1f\x7f"(),:;<>@[\]\\]+$/;

function mailboxFrom(value: unknown, path: string, errors: FieldError[]): Mailbox | undefined {
  if (typeof value === 'string' && CONTROL.test(value)) {
    errors.push({ path, message: controlProblem });
    return undefined;
  }
  if (isObject(value)) {
    if (typeof value.email === 'string' && CONTROL.test(value.email)) {
      errors.push({ path: `${path}/email`, message: controlProblem });
      return undefined;
    }
    if (typeof value.name === 'string' && CONTROL.test(value.name)) {
      errors.push({ path: `${path}/name`, message: controlProblem });
      return undefined;
    }
    const email = value.email;
    if (typeof email !== 'string') {
      errors.push({ path: `${path}/email`, message: 'is required and must be a string' });
      return undefined;
    }
    const parsed = parseAddress(email);
    if (!parsed.ok) {
      errors.push({ path: `${path}/email`, message: describeAddressProblem(parsed.problem) });
      return undefined;
    }
    if (value.name !== undefined && typeof value.name !== 'string') {
      errors.push({ path: `${path}/name`, message: 'must be a string' });
      return undefined;
    }
    return typeof value.name === 'string' && value.name ? { ...parsed.mailbox, name: value.name } : parsed.mailbox;
  }
  if (typeof value === 'string') {
    const list = BARE_ADDRESS.test(value) ? [{ name: '', address: value }] : addressparser(value, { flatten: true });
    if (list.length !== 1) {
      errors.push({ path, message: list.length ? 'must be a single address here' : 'is not an email address' });
      return undefined;
    }
    const one = list[0]!;
    // addressparser reads a bare word as a display name; judge such input as the address it was meant to be.
    const parsed = parseAddress(one.address.includes('@') ? one.address : value);
    if (!parsed.ok) {
      errors.push({ path, message: `${describeAddressProblem(parsed.problem)} (${JSON.stringify(one.address || value)})` });
      return undefined;
    }
    return one.name ? { ...parsed.mailbox, name: one.name } : parsed.mailbox;
  }
  errors.push({ path, message: 'must be an address string or an object with "email"' });
  return undefined;
}

function mailboxList(value: unknown, path: string, errors: FieldError[]): Mailbox[] {
  if (value === undefined || value === null) return [];
  if (typeof value === 'string' && CONTROL.test(value)) {
    errors.push({ path, message: controlProblem });
    return [];
  }
  if (typeof value === 'string') {
    // "a@x, Ann <b@y>" — split with a real RFC 5322 address parser, then check each.
    const list = BARE_ADDRESS.test(value) ? [{ name: '', address: value }] : addressparser(value, { flatten: true });
    if (!list.length) errors.push({ path, message: 'contains no address' });
    return list.flatMap((a, i) => {
      const m = mailboxFrom(
        a.name ? `"${a.name.replace(/"/g, '\\"')}" <${a.address}>` : a.address,
        list.length > 1 ? `${path}/${i}` : path,
        errors,
      );
      return m ? [m] : [];
    });
  }
  if (Array.isArray(value)) return value.flatMap((v, i) => mailboxList(v, `${path}/${i}`, errors));
  if (isObject(value)) {
    const m = mailboxFrom(value, path, errors);
    return m ? [m] : [];
  }
  errors.push({ path, message: 'must be an address, a list of addresses or {"email", "name"} objects' });
  return [];
}

const known = new Set([
  'from',
  'to',
  'cc',
  'bcc',
  'reply_to',
  'subject',
  'text',
  'html',
  'headers',
  'attachments',
  'tags',
  'metadata',
  'stream',
  'send_at',
  'template',
  'classification',
  ...engagementFieldNames,
]);

const attachmentFields = new Set(['filename', 'content', 'content_type', 'content_id', 'encoding']);

/** RFC 6901: `~` and `/` in a key are escaped in a JSON Pointer. */
const escapePointer = (key: string) => key.replace(/~/g, '~0').replace(/\//g, '~1');

/** Tags of a message: at most 20, each 1-64 characters of letters, digits, _ . : - (shared with PATCH /v1/messages/{id}). */
export function tagsFrom(value: unknown, path: string, errors: FieldError[]): string[] {
  const tags: string[] = [];
  if (value === undefined) return tags;
  if (!Array.isArray(value)) errors.push({ path, message: 'must be a list of strings' });
  else if (value.length > 20) errors.push({ path, message: 'must have at most 20 tags' });
  else
    value.forEach((tag: unknown, i) => {
      if (typeof tag !== 'string' || !TAG.test(tag))
        errors.push({ path: `${path}/${i}`, message: 'must be 1-64 characters of letters, digits, _ . : -' });
      else tags.push(tag);
    });
  return tags;
}

/** Metadata of a message: at most 50 keys of string values up to 1000 characters (shared with PATCH). */
export function metadataFrom(value: unknown, path: string, errors: FieldError[]): Record<string, string> {
  const metadata: Record<string, string> = {};
  if (value === undefined) return metadata;
  if (!isObject(value)) {
    errors.push({ path, message: 'must be an object of string values' });
    return metadata;
  }
  const entries = Object.entries(value);
  if (entries.length > 50) errors.push({ path, message: 'must have at most 50 keys' });
  for (const [k, v] of entries) {
    if (typeof v !== 'string') errors.push({ path: `${path}/${escapePointer(k)}`, message: 'must be a string' });
    else if (v.length > 1000) errors.push({ path: `${path}/${escapePointer(k)}`, message: 'must be at most 1000 characters' });
    else metadata[k] = v;
  }
  return metadata;
}

export function parseSendRequest(input: unknown): SendParse {
  if (!isObject(input)) return { ok: false, errors: [{ path: '', message: 'the body must be a JSON object' }] };
  const variants = normaliseSendVariants(input);
  const body = variants.body;
  const errors: FieldError[] = [...variants.errors];
  for (const k of Object.keys(body)) if (!known.has(k)) errors.push({ path: `/${k}`, message: 'is not a known field' });

  if (body.from === undefined) errors.push({ path: '/from', message: 'is required' });
  const from = body.from === undefined ? undefined : mailboxFrom(body.from, '/from', errors);
  const to = mailboxList(body.to, '/to', errors);
  const cc = mailboxList(body.cc, '/cc', errors);
  const bcc = mailboxList(body.bcc, '/bcc', errors);
  const replyTo = mailboxList(body.reply_to, '/reply_to', errors);
  if (!to.length && !cc.length && !bcc.length && body.to === undefined) {
    errors.push({ path: '/to', message: 'at least one recipient is required in to, cc or bcc' });
  }

  let subject = '';
  if (body.subject === undefined) {
    if (body.template === undefined) errors.push({ path: '/subject', message: 'is required (or give template)' });
  } else if (typeof body.subject !== 'string') errors.push({ path: '/subject', message: 'must be a string' });
  else if (/[\r\n]/.test(body.subject)) errors.push({ path: '/subject', message: 'must not contain line breaks' });
  else if (body.subject.length > 998) errors.push({ path: '/subject', message: 'must be at most 998 characters (RFC 5322 §2.1.1)' });
  else subject = body.subject;

  for (const k of ['text', 'html'] as const) {
    if (body[k] !== undefined && typeof body[k] !== 'string') errors.push({ path: `/${k}`, message: 'must be a string' });
  }
  if (body.text === undefined && body.html === undefined && body.template === undefined)
    errors.push({ path: '/text', message: 'text or html is required (or give template)' });
  const template = body.template === undefined ? undefined : templateContent(body, errors);

  const headers: Record<string, string> = {};
  if (body.headers !== undefined) {
    if (!isObject(body.headers)) errors.push({ path: '/headers', message: 'must be an object of header names to string values' });
    else {
      for (const [name, value] of Object.entries(body.headers)) {
        const p = `/headers/${escapePointer(name)}`;
        if (!HEADER_NAME.test(name)) errors.push({ path: p, message: 'is not a valid header name (RFC 5322 §3.6.8)' });
        else if (reservedHeaders.has(name.toLowerCase()))
          errors.push({ path: p, message: 'is set by the platform; use the matching field instead' });
        else if (typeof value !== 'string') errors.push({ path: p, message: 'must be a string' });
        else if (/[\r\n]/.test(value)) errors.push({ path: p, message: 'must not contain line breaks' });
        else headers[name] = value;
      }
    }
  }

  const attachments: Attachment[] = [];
  if (body.attachments !== undefined) {
    if (!Array.isArray(body.attachments)) errors.push({ path: '/attachments', message: 'must be a list' });
    else {
      body.attachments.forEach((a: unknown, i) => {
        const p = `/attachments/${i}`;
        if (!isObject(a)) {
          errors.push({ path: p, message: 'must be an object with filename and content' });
          return;
        }
        for (const k of Object.keys(a)) {
          if (!attachmentFields.has(k)) errors.push({ path: `${p}/${escapePointer(k)}`, message: 'is not a known field' });
        }
        // The content is always base64; an attachment that says otherwise would be decoded wrongly.
        if (a.encoding !== undefined && a.encoding !== 'base64') {
          errors.push({ path: `${p}/encoding`, message: 'must be "base64" (the only encoding content may have)' });
        }
        if (typeof a.filename !== 'string' || !a.filename) errors.push({ path: `${p}/filename`, message: 'is required' });
        if (typeof a.content !== 'string') {
          errors.push({ path: `${p}/content`, message: 'is required (base64)' });
          return;
        }
        if (!BASE64.test(a.content)) {
          errors.push({ path: `${p}/content`, message: 'must be base64' });
          return;
        }
        if (a.content_type !== undefined && (typeof a.content_type !== 'string' || !/^[\w.+-]+\/[\w.+-]+$/.test(a.content_type))) {
          errors.push({ path: `${p}/content_type`, message: 'must be a media type such as application/pdf' });
        }
        if (typeof a.filename === 'string' && a.filename) {
          attachments.push({
            filename: a.filename,
            content: Buffer.from(a.content, 'base64'),
            ...(typeof a.content_type === 'string' ? { contentType: a.content_type } : {}),
            ...(typeof a.content_id === 'string' ? { contentId: a.content_id } : {}),
          });
        }
      });
    }
  }

  const tags = tagsFrom(body.tags, '/tags', errors);
  const metadata = metadataFrom(body.metadata, '/metadata', errors);

  // RFC 3339 §5.6: a full date and time with its offset, so the moment is never ambiguous.
  let sendAt: number | undefined;
  if (body.send_at !== undefined && body.send_at !== null) {
    const t = typeof body.send_at === 'string' && RFC3339.test(body.send_at) ? Date.parse(body.send_at) : Number.NaN;
    if (!Number.isFinite(t))
      errors.push({ path: '/send_at', message: 'must be an RFC 3339 time with its offset, such as 2026-11-23T09:00:00Z' });
    else sendAt = t;
  }

  let stream: Stream = 'transactional';
  if (body.stream !== undefined) {
    if (typeof body.stream === 'string' && (streams as readonly string[]).includes(body.stream)) stream = body.stream as Stream;
    else errors.push({ path: '/stream', message: `must be one of ${streams.join(', ')}` });
  }

  let classification: string | undefined;
  if (body.classification !== undefined) {
    if (typeof body.classification === 'string' && /^[a-z][a-z0-9_-]{0,31}$/.test(body.classification))
      classification = body.classification;
    else errors.push({ path: '/classification', message: 'must be a classification name such as pci or confidential' });
  }

  const engagement = parseEngagementFields(body, errors);
  if (errors.length || !from) return { ok: false, errors };
  const request: SendRequest = { from, to, cc, bcc, replyTo, subject, headers, attachments, tags, metadata, stream, ...engagement };
  if (typeof body.text === 'string') request.text = body.text;
  if (typeof body.html === 'string') request.html = body.html;
  if (sendAt !== undefined) request.sendAt = sendAt;
  if (template) request.template = template;
  if (classification) request.classification = classification;
  return { ok: true, request, warnings: variants.warnings };
}

/** A template send: `template` alone carries the content, so subject, text and html must be absent. */
function templateContent(body: Record<string, unknown>, errors: FieldError[]): TemplateRef | undefined {
  for (const k of ['subject', 'text', 'html'] as const) {
    if (body[k] !== undefined) errors.push({ path: `/${k}`, message: 'must be absent when template is given (the template renders it)' });
  }
  return parseTemplateRef(body.template, '/template', errors);
}
