import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { type ParsedMail, simpleParser } from 'mailparser';
import { Type } from 'typebox';
import { PostwardenError } from '../../core/index.js';
import { AUTHED, problems } from '../contract/problem-schema.js';
import { actorOf } from '../plugins/actor.js';
import { principalOf } from '../plugins/auth.js';
import type { ApiServices } from '../services.js';
import { recordContentRead } from './audit.js';
import { iso } from './json.js';

/**
 * The sandbox inbox's reading and housekeeping (what sandbox.ts, the list and the raw capture, does
 * not): a capture parsed into headers, text, attachments; its HTML at a short-lived signed URL
 * for a sandboxed iframe; deleting one capture or all.
 *
 * The HTML of a message is never put in the dashboard's own document. It is served alone, from
 * /sandbox-preview/{token}, with a CSP that forbids scripts, forms and every remote load (`sandbox`
 * directive, `default-src 'none'`); the remote variant (a separate token the person asks for by
 * clicking) allows remote images and styles only. The dashboard shows it in `<iframe sandbox>`
 * without allow-scripts, so a script in a captured message runs in neither layer. The token is an
 * HMAC over tenant, capture, variant and expiry with a key of this process: it is what lets an
 * iframe (which cannot send a Bearer header) load it, and it is worth nothing after 10 minutes.
 */
const PREVIEW_TTL_MS = 10 * 60_000;
const Id = Type.Object({ id: Type.String({ maxLength: 64 }) });

const ContentJson = Type.Object(
  {
    id: Type.String(),
    message_id: Type.String(),
    captured_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    envelope_from: Type.String(),
    envelope_to: Type.String(),
    subject: Type.String(),
    from: Type.String(),
    to: Type.String(),
    date: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    headers: Type.Array(Type.Object({ name: Type.String(), value: Type.String() }), { description: 'As in the message, in order.' }),
    text: Type.Union([Type.String(), Type.Null()], { description: 'The text part.' }),
    has_html: Type.Boolean(),
    preview: Type.Union([
      Type.Object({
        url: Type.String({ description: 'The HTML part with every remote load blocked; for <iframe sandbox>.' }),
        remote_url: Type.String({ description: 'The same with remote images and styles allowed (still no scripts).' }),
        expires_at: Type.String({ format: 'date-time' }),
      }),
      Type.Null(),
    ]),
    attachments: Type.Array(
      Type.Object({
        index: Type.Integer(),
        filename: Type.Union([Type.String(), Type.Null()]),
        content_type: Type.String(),
        size: Type.Integer(),
        content_id: Type.Union([Type.String(), Type.Null()]),
      }),
    ),
  },
  {
    examples: [
      {
        id: 'cap_01JD3W2Q0000000000000000',
        message_id: 'msg_01JD3W2Q0000000000000000',
        captured_at: '2026-11-23T09:00:01.000Z',
        envelope_from: 'bounces@example.com',
        envelope_to: 'ann@example.net',
        subject: 'Hello',
        from: 'hello@example.com',
        to: 'ann@example.net',
        date: '2026-11-23T09:00:00.000Z',
        headers: [{ name: 'subject', value: 'Hello' }],
        text: 'Hi Ann',
        has_html: true,
        preview: {
          url: '/sandbox-preview/eyJ0Ijo…',
          remote_url: '/sandbox-preview/eyJ0Ijo…',
          expires_at: '2026-11-23T09:10:00.000Z',
        },
        attachments: [],
      },
    ],
  },
);

interface PreviewClaim {
  t: string;
  c: string;
  r: 0 | 1;
  e: number;
}

/** `app` is the /v1 scope; the signed HTML preview (/sandbox-preview/…) goes on `root`, outside it. */
export function sandboxInboxRoutes(app: FastifyInstance, s: ApiServices, root: FastifyInstance = app): void {
  const key = randomBytes(32);
  const sign = (body: string) => createHmac('sha256', key).update(body).digest('base64url');
  const token = (claim: PreviewClaim) => {
    const body = Buffer.from(JSON.stringify(claim)).toString('base64url');
    return `${body}.${sign(body)}`;
  };
  const verify = (tok: string): PreviewClaim | undefined => {
    const [body, mac] = tok.split('.');
    if (!body || !mac) return undefined;
    const want = Buffer.from(sign(body));
    const got = Buffer.from(mac);
    if (want.length !== got.length || !timingSafeEqual(want, got)) return undefined;
    const claim = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as PreviewClaim;
    return claim.e > s.clock.now() ? claim : undefined;
  };
  const parsed = async (tenantId: string, id: string) => {
    const { capture, raw } = await s.spine.captured(tenantId, id);
    return { capture, mail: await simpleParser(raw, { skipHtmlToText: true, skipTextToHtml: true, skipImageLinks: true }) };
  };
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const pub = root.withTypeProvider<TypeBoxTypeProvider>();

  r.get(
    '/sandbox/inbox',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['sandbox'],
        summary: 'The sandbox inbox: captures, newest first, with subject and sender',
        description: 'What GET /v1/sandbox/messages lists, with the From and Subject of each message, for a mail-client view.',
        querystring: Type.Object({
          before: Type.Optional(Type.String({ description: 'next_before of the previous page' })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
        }),
        response: {
          200: Type.Object(
            {
              data: Type.Array(
                Type.Object({
                  id: Type.String(),
                  message_id: Type.String(),
                  subject: Type.String(),
                  from: Type.String(),
                  envelope_to: Type.String(),
                  captured_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
                }),
              ),
              next_before: Type.Union([Type.String(), Type.Null()]),
            },
            {
              examples: [
                {
                  data: [
                    {
                      id: 'cap_01JD3W2Q0000000000000000',
                      message_id: 'msg_01JD3W2Q0000000000000000',
                      subject: 'Hello',
                      from: 'hello@example.com',
                      envelope_to: 'ann@example.net',
                      captured_at: '2026-11-23T09:00:01.000Z',
                    },
                  ],
                  next_before: null,
                },
              ],
            },
          ),
          ...problems(...AUTHED, 422),
        },
      },
    },
    async (request) => {
      const p = principalOf(request);
      const limit = request.query.limit ?? 50;
      const rows = await s.spine.listInbox(p.tenant.id, { before: request.query.before, limit });
      return {
        data: rows.map(({ capture, message }) => ({
          id: capture.id,
          message_id: capture.messageId,
          subject: message?.subject ?? '',
          from: message?.from ?? capture.envelopeFrom,
          envelope_to: capture.envelopeTo,
          captured_at: iso(capture.capturedAt),
        })),
        next_before: rows.length === limit ? rows[rows.length - 1]!.capture.id : null,
      };
    },
  );

  r.get(
    '/sandbox/messages/:id/content',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['sandbox'],
        summary: 'A capture parsed: headers, text part, attachments, and where to see its HTML',
        description: 'The HTML part is not in this answer: it is served alone at preview.url, for a sandboxed iframe.',
        params: Id,
        response: { 200: ContentJson, ...problems(...AUTHED, 404, 422) },
      },
    },
    async (request) => {
      const p = principalOf(request);
      const { capture, mail } = await parsed(p.tenant.id, request.params.id);
      await recordContentRead(s, request, capture.id, 'content');
      const expires = s.clock.now() + PREVIEW_TTL_MS;
      const claim = { t: p.tenant.id, c: capture.id, e: expires };
      return {
        id: capture.id,
        message_id: capture.messageId,
        captured_at: iso(capture.capturedAt),
        envelope_from: capture.envelopeFrom,
        envelope_to: capture.envelopeTo,
        subject: mail.subject ?? '',
        from: mail.from?.text ?? '',
        to: addressText(mail.to),
        date: mail.date ? mail.date.toISOString() : null,
        headers: mail.headerLines.map((h) => ({ name: h.key, value: h.line.slice(h.line.indexOf(':') + 1).trim() })),
        text: mail.text ?? null,
        has_html: typeof mail.html === 'string',
        preview:
          typeof mail.html === 'string'
            ? {
                url: `/sandbox-preview/${token({ ...claim, r: 0 })}`,
                remote_url: `/sandbox-preview/${token({ ...claim, r: 1 })}`,
                expires_at: iso(expires)!,
              }
            : null,
        attachments: mail.attachments.map((a, index) => ({
          index,
          filename: a.filename ?? null,
          content_type: a.contentType,
          size: a.size,
          content_id: a.cid ?? null,
        })),
      };
    },
  );

  r.get(
    '/sandbox/messages/:id/attachments/:index',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['sandbox'],
        summary: 'Download one attachment of a capture',
        description:
          'The bytes of attachment `index` (0-based, as listed by …/content), always as an application/octet-stream download with its file name.',
        params: Type.Object({ id: Type.String({ maxLength: 64 }), index: Type.Integer({ minimum: 0, maximum: 10_000 }) }),
        response: {
          200: {
            description: 'The attachment bytes, as application/octet-stream with its file name.',
            content: {
              'application/octet-stream': {
                schema: Type.Unsafe<Buffer>({
                  type: 'string',
                  format: 'binary',
                  description: 'The attachment bytes.',
                  examples: ['%PDF-1.7 …'],
                }),
              },
            },
          },
          ...problems(...AUTHED, 404, 422),
        },
      },
    },
    async (request, reply) => {
      const p = principalOf(request);
      const { mail } = await parsed(p.tenant.id, request.params.id);
      const a = mail.attachments[request.params.index];
      if (!a) throw new PostwardenError('NOT_FOUND', `the capture has no attachment ${request.params.index}`);
      await recordContentRead(s, request, request.params.id, `attachment:${request.params.index}`);
      const name = (a.filename ?? `attachment-${request.params.index}`).replace(/[^\w.\- ]/g, '_');
      // Always a download, never rendered by the browser in the dashboard's origin.
      return reply
        .type('application/octet-stream')
        .header('content-disposition', `attachment; filename="${name}"`)
        .header('x-content-type-options', 'nosniff')
        .send(a.content);
    },
  );

  pub.get(
    '/sandbox-preview/:token',
    {
      schema: {
        tags: ['sandbox'],
        summary: "A capture's HTML part, for a sandboxed iframe (signed URL from …/content)",
        description:
          "No Bearer: the URL's token authorises it for 10 minutes. Scripts, forms and plugins never run (CSP sandbox); remote loads only with the remote_url variant.",
        params: Type.Object({ token: Type.String({ maxLength: 2048 }) }),
        security: [],
        response: {
          200: {
            description: 'The HTML part of the capture, for a sandboxed iframe.',
            content: { 'text/html': { schema: Type.String({ description: 'text/html', examples: ['<p>Hello Ada</p>'] }) } },
          },
          ...problems(404),
        },
      },
    },
    async (request, reply) => {
      const claim = verify(request.params.token);
      if (!claim) throw new PostwardenError('NOT_FOUND', 'this preview link is unknown or has expired; reopen the message');
      const { mail } = await parsed(claim.t, claim.c);
      const remote = claim.r === 1 ? ' https: http:' : '';
      return reply
        .type('text/html; charset=utf-8')
        .header(
          'content-security-policy',
          `sandbox; default-src 'none'; style-src 'unsafe-inline'${remote}; img-src data:${remote}; font-src data:${remote}; frame-ancestors 'self'; form-action 'none'; base-uri 'none'`,
        )
        .header('cache-control', 'no-store')
        .header('referrer-policy', 'no-referrer')
        .header('x-content-type-options', 'nosniff')
        .send(typeof mail.html === 'string' ? mail.html : '');
    },
  );

  r.delete(
    '/sandbox/messages/:id',
    {
      config: { scope: 'send' },
      schema: {
        tags: ['sandbox'],
        summary: 'Delete one capture from the sandbox inbox',
        description: 'The message and its events stay: they are the record of the send.',
        params: Id,
        response: { 204: Type.Null({ description: 'Deleted.' }), ...problems(...AUTHED, 404, 422) },
      },
    },
    async (request, reply) => {
      const p = principalOf(request);
      await s.spine.deleteCaptured(p.tenant.id, request.params.id, actorOf(request));
      return reply.code(204).send(null);
    },
  );

  r.delete(
    '/sandbox/messages',
    {
      config: { scope: 'send' },
      schema: {
        tags: ['sandbox'],
        summary: "Empty the tenant's sandbox inbox",
        description: 'Deletes every capture of the tenant and answers how many there were; the events of those messages stay.',
        response: {
          200: Type.Object({ deleted: Type.Integer({ description: 'Captures deleted.' }) }, { examples: [{ deleted: 3 }] }),
          ...problems(...AUTHED),
        },
      },
    },
    async (request) => {
      const p = principalOf(request);
      return { deleted: await s.spine.clearCaptured(p.tenant.id, actorOf(request)) };
    },
  );
}

const addressText = (a: ParsedMail['to']) => (a === undefined ? '' : Array.isArray(a) ? a.map((x) => x.text).join(', ') : a.text);
