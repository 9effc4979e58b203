import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { errorCatalogue, type PostwardenError } from '../../core/index.js';
import { retrying } from '../contract/problem-schema.js';
import type { ApiServices } from '../services.js';
import {
  asPostwardenError,
  bearerOf,
  emptyMapping,
  ignore,
  type MappedSend,
  oneLine,
  principalFromKey,
  sendMapped,
} from './compat-send.js';

/**
 * Resend-compatible sending: `POST /compat/resend/emails` with Resend's body, authenticated by
 * `Authorization: Bearer <Postwarden API key>`, answering `{ id }` and errors as Resend's
 * `{ statusCode, name, message }`. A Resend SDK works by setting its base URL (RESEND_BASE_URL) to
 * `<postwarden>/compat/resend` and its key to ours; `Idempotency-Key` is honoured as ours.
 * Written from Resend's public API reference ("Send Email", "Errors"); docs/migrating.md has the
 * field table.
 */
const Addresses = Type.Union([Type.String(), Type.Array(Type.String())]);
const Attachment = Type.Object(
  {
    filename: Type.Optional(Type.String()),
    content: Type.Optional(
      Type.Union([
        Type.String({ description: 'base64' }),
        Type.Object(
          { type: Type.Literal('Buffer'), data: Type.Array(Type.Integer({ minimum: 0, maximum: 255 })) },
          { description: 'a Node Buffer as JSON' },
        ),
      ]),
    ),
    path: Type.Optional(Type.String({ description: 'A URL to fetch: not supported, refused' })),
    content_type: Type.Optional(Type.String()),
    content_id: Type.Optional(Type.String()),
    inline_content_id: Type.Optional(Type.String()),
  },
  { additionalProperties: true },
);
const ResendEmail = Type.Object(
  {
    from: Type.String(),
    to: Addresses,
    subject: Type.String(),
    cc: Type.Optional(Addresses),
    bcc: Type.Optional(Addresses),
    reply_to: Type.Optional(Addresses),
    html: Type.Optional(Type.String()),
    text: Type.Optional(Type.String()),
    headers: Type.Optional(Type.Record(Type.String(), Type.String())),
    attachments: Type.Optional(Type.Array(Attachment)),
    tags: Type.Optional(
      Type.Array(Type.Object({ name: Type.String(), value: Type.String() }), { description: 'Kept as message metadata' }),
    ),
    scheduled_at: Type.Optional(Type.String({ description: 'RFC 3339 time with offset; read as send_at (natural language is refused)' })),
    template: Type.Optional(Type.Unknown({ description: 'Not supported: refused' })),
    topic_id: Type.Optional(Type.String()),
  },
  {
    additionalProperties: true,
    examples: [
      {
        from: 'Acme <onboarding@example.com>',
        to: ['delivered@example.net'],
        subject: 'hello world',
        html: '<p>it works!</p>',
        reply_to: 'support@example.com',
        tags: [{ name: 'category', value: 'confirm_email' }],
      },
    ],
  },
);

const Answer = Type.Object(
  {
    id: Type.String({ description: 'The Postwarden message id (msg_…)' }),
    postwarden_warnings: Type.Optional(Type.Array(Type.Object({ path: Type.String(), message: Type.String() }))),
  },
  { examples: [{ id: 'msg_01JD4Z9X0000000000000000' }] },
);
const ErrorAnswer = Type.Object(
  { statusCode: Type.Integer(), name: Type.String(), message: Type.String() },
  { examples: [{ statusCode: 422, name: 'validation_error', message: 'to: is not an email address' }] },
);

/** Resend's body → ours. */
export function fromResend(b: Record<string, unknown>): MappedSend {
  const m = emptyMapping();
  for (const f of ['from', 'to', 'cc', 'bcc', 'reply_to', 'subject', 'html', 'text', 'headers']) {
    m.paths[f] = `/${f}`;
    if (b[f] !== undefined) m.body[f] = b[f];
  }
  // The Node SDK sends replyTo as reply_to; a hand-written body may still say replyTo.
  if (b.replyTo !== undefined) m.body.replyTo = b.replyTo;
  if (Array.isArray(b.tags)) {
    m.body.metadata = Object.fromEntries(b.tags.map((t: { name: string; value: string }) => [t.name, t.value]));
    m.paths.metadata = '/tags';
  }
  if (Array.isArray(b.attachments)) {
    m.paths.attachments = '/attachments';
    m.body.attachments = b.attachments.map((a: Record<string, unknown>, i) => {
      if (a.path !== undefined)
        m.errors.push({ path: `/attachments/${i}/path`, message: 'remote attachments are not fetched; send content (base64)' });
      let content = a.content;
      if (typeof content === 'object' && content !== null) {
        // JSON.stringify of a Node Buffer, as an SDK sends `content: buffer`.
        content = Buffer.from((content as { data: number[] }).data).toString('base64');
        m.warnings.push({ path: `/attachments/${i}/content`, message: 'read a Buffer as JSON; base64 is the usual form' });
      }
      const cid = a.content_id ?? a.inline_content_id;
      return {
        filename: a.filename,
        content,
        ...(a.content_type !== undefined ? { content_type: a.content_type } : {}),
        ...(cid !== undefined ? { content_id: cid } : {}),
      };
    });
  }
  // Resend also takes words ("in 1 hour"); only an RFC 3339 time is read, anything else is refused by path.
  if (b.scheduled_at !== undefined) m.body.send_at = b.scheduled_at;
  m.paths.send_at = '/scheduled_at';
  if (b.template !== undefined) m.errors.push({ path: '/template', message: 'Resend templates are not supported; send html or text' });
  ignore(m, { topic_id: 'Postwarden has no topics; use the marketing stream and its unsubscribe' }, { body: b });
  return m;
}

/** Our error → Resend's status and error name ("Errors" page of the API reference). */
function resendError(e: PostwardenError): { status: number; name: string; message: string } {
  const message = oneLine(e);
  switch (e.code) {
    case 'UNAUTHENTICATED':
      return e.details.missing ? { status: 401, name: 'missing_api_key', message } : { status: 403, name: 'invalid_api_key', message };
    case 'FORBIDDEN':
      return { status: 401, name: 'restricted_api_key', message };
    case 'MALFORMED_REQUEST':
    case 'UNSUPPORTED_MEDIA_TYPE':
      return { status: 400, name: 'validation_error', message };
    case 'SENDER_DOMAIN_NOT_ALLOWED':
    case 'SENDER_MISALIGNED':
      return { status: 403, name: 'validation_error', message };
    case 'IDEMPOTENCY_CONFLICT':
      return { status: 409, name: 'invalid_idempotent_request', message };
    case 'IDEMPOTENCY_IN_PROGRESS':
      return { status: 409, name: 'concurrent_idempotent_requests', message };
    case 'RATE_LIMITED':
    case 'OVERLOADED':
      return { status: 429, name: 'rate_limit_exceeded', message };
    case 'VALIDATION_FAILED':
      // Resend names a missing field apart from a wrong one.
      return (e.details.errors ?? []).every((x) => x.message === 'is required')
        ? { status: 422, name: 'missing_required_field', message }
        : { status: 422, name: 'validation_error', message };
    case 'INTERNAL':
      return { status: 500, name: 'application_error', message };
    default: {
      const status = errorCatalogue[e.code].status;
      return status >= 500 ? { status, name: 'application_error', message } : { status: 422, name: 'validation_error', message };
    }
  }
}

export function resendRoutes(app: FastifyInstance, s: ApiServices): void {
  app.withTypeProvider<TypeBoxTypeProvider>().post(
    '/compat/resend/emails',
    {
      onRequest: async (request: FastifyRequest) => {
        request.principal = await principalFromKey(s, request, bearerOf(request), 'Authorization: Bearer <key>');
      },
      errorHandler: (error: unknown, request: FastifyRequest, reply: FastifyReply) => {
        const e = asPostwardenError(error);
        if (e.code === 'INTERNAL') request.log.error({ err: error }, 'unhandled error');
        const r = resendError(e);
        if (typeof e.details.retryAfter === 'number') reply.header('retry-after', String(Math.ceil(e.details.retryAfter)));
        return reply.code(r.status).send({ statusCode: r.status, name: r.name, message: r.message });
      },
      schema: {
        tags: ['compat'],
        summary: 'Resend-compatible send (POST /emails)',
        description:
          "Resend's send body and answer ({id}); authenticate with Authorization: Bearer <Postwarden API key>; Idempotency-Key as on our API. " +
          'Errors are {statusCode, name, message} with Resend names (missing_api_key, invalid_api_key, validation_error, ' +
          'missing_required_field, rate_limit_exceeded, …). scheduled_at (an RFC 3339 time) schedules the send; template is refused. See docs/migrating.md.',
        body: ResendEmail,
        response: {
          200: Answer,
          400: ErrorAnswer,
          401: ErrorAnswer,
          403: ErrorAnswer,
          409: ErrorAnswer,
          422: ErrorAnswer,
          429: retrying(ErrorAnswer, 429),
          500: ErrorAnswer,
          503: retrying(ErrorAnswer, 503),
        },
      },
    },
    async (request) => {
      const { accepted, warnings } = await sendMapped(s, request.principal!, fromResend(request.body));
      return { id: accepted.id, ...(warnings.length ? { postwarden_warnings: warnings } : {}) };
    },
  );
}
