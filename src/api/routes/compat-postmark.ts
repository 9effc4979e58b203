import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type Static, Type } from 'typebox';
import type { AcceptedMessage } from '../../accept/index.js';
import { errorCatalogue, type PostwardenError, type Stream, validationError } from '../../core/index.js';
import { exampleOf } from '../contract/examples.js';
import { retrying } from '../contract/problem-schema.js';
import type { ApiServices } from '../services.js';
import {
  asPostwardenError,
  emptyMapping,
  headerPairs,
  ignore,
  type MappedSend,
  oneLine,
  principalFromKey,
  sendMapped,
} from './compat-send.js';

/**
 * Postmark-compatible sending: `POST /compat/postmark/email` and `/compat/postmark/email/batch`,
 * authenticated by `X-Postmark-Server-Token` holding one of our API keys, answering Postmark's
 * shapes (`To`, `SubmittedAt`, `MessageID`, `ErrorCode`, `Message`) and error codes. A Postmark
 * client works by changing its base URL to `<postwarden>/compat/postmark` and its token to our key.
 * Written from Postmark's public API reference ("Email API", "Overview: error codes");
 * docs/migrating.md has the field table.
 */
const Header = Type.Object({ Name: Type.String(), Value: Type.String() });
const Attachment = Type.Object(
  {
    Name: Type.String(),
    Content: Type.String({ description: 'base64' }),
    ContentType: Type.Optional(Type.String()),
    ContentID: Type.Optional(Type.String({ description: 'cid:… for inline images' })),
  },
  { additionalProperties: true },
);
const PostmarkEmail = Type.Object(
  {
    From: Type.String({ description: 'An address or "Name <address>"' }),
    To: Type.Optional(Type.String({ description: 'Comma-separated addresses' })),
    Cc: Type.Optional(Type.String()),
    Bcc: Type.Optional(Type.String()),
    Subject: Type.Optional(Type.String()),
    Tag: Type.Optional(Type.String({ description: 'Kept as the one tag of the message' })),
    HtmlBody: Type.Optional(Type.String()),
    TextBody: Type.Optional(Type.String()),
    ReplyTo: Type.Optional(Type.String()),
    Headers: Type.Optional(Type.Array(Header)),
    Metadata: Type.Optional(Type.Record(Type.String(), Type.String())),
    Attachments: Type.Optional(Type.Array(Attachment)),
    MessageStream: Type.Optional(Type.String({ description: 'outbound → transactional, broadcast → marketing' })),
    TrackOpens: Type.Optional(Type.Boolean()),
    TrackLinks: Type.Optional(Type.String()),
  },
  {
    additionalProperties: true,
    examples: [
      {
        From: 'sender@example.com',
        To: 'receiver@example.com',
        Subject: 'Postmark test',
        TextBody: 'Hello dear Postmark user.',
        HtmlBody: '<html><body><strong>Hello</strong> dear Postmark user.</body></html>',
        MessageStream: 'outbound',
      },
    ],
  },
);
type PostmarkEmail = Static<typeof PostmarkEmail>;

const Answer = Type.Object(
  {
    To: Type.Optional(Type.String()),
    SubmittedAt: Type.Optional(Type.String()),
    MessageID: Type.Optional(Type.String({ description: 'The Postwarden message id (msg_…)' })),
    ErrorCode: Type.Integer({ description: '0 on success; a Postmark error code otherwise' }),
    Message: Type.String(),
    PostwardenWarnings: Type.Optional(Type.Array(Type.Object({ path: Type.String(), message: Type.String() }))),
  },
  {
    examples: [
      {
        To: 'receiver@example.com',
        SubmittedAt: '2026-11-23T09:00:00.000Z',
        MessageID: 'msg_01JD4Z9X0000000000000000',
        ErrorCode: 0,
        Message: 'OK',
      },
    ],
  },
);
const ErrorAnswer = Type.Object(
  { ErrorCode: Type.Integer(), Message: Type.String() },
  { examples: [{ ErrorCode: 300, Message: 'Invalid email request: To: is not an email address' }] },
);

const streamOf: Record<string, Stream> = {
  outbound: 'transactional',
  broadcast: 'marketing',
  transactional: 'transactional',
  marketing: 'marketing',
  cold: 'cold',
};

/** Postmark's body → ours. `base` prefixes paths (`/3` inside a batch). */
export function fromPostmark(b: Record<string, unknown>, base = ''): MappedSend {
  const m = emptyMapping();
  const field = (ours: string, theirs: string) => {
    // The path is known even when the field is absent, so "is required" names Postmark's field.
    m.paths[ours] = `${base}/${theirs}`;
    if (b[theirs] !== undefined) m.body[ours] = b[theirs];
  };
  field('from', 'From');
  field('to', 'To');
  field('cc', 'Cc');
  field('bcc', 'Bcc');
  field('subject', 'Subject');
  field('html', 'HtmlBody');
  field('text', 'TextBody');
  field('reply_to', 'ReplyTo');
  field('metadata', 'Metadata');
  if (b.Tag !== undefined) {
    m.body.tags = [b.Tag];
    m.paths.tags = `${base}/Tag`;
  }
  if (b.Headers !== undefined) {
    m.body.headers = headerPairs(m, b.Headers, `${base}/Headers`);
    m.paths.headers = `${base}/Headers`;
  }
  if (Array.isArray(b.Attachments)) {
    m.body.attachments = b.Attachments.map((a: Record<string, unknown>) => ({
      filename: a.Name,
      content: a.Content,
      ...(a.ContentType !== undefined ? { content_type: a.ContentType } : {}),
      // Postmark names inline parts "cid:logo.png"; the Content-ID itself is what follows.
      ...(typeof a.ContentID === 'string' && a.ContentID ? { content_id: a.ContentID.replace(/^cid:/i, '') } : {}),
    }));
    m.paths.attachments = `${base}/Attachments`;
  }
  if (b.MessageStream !== undefined) {
    const stream = typeof b.MessageStream === 'string' ? streamOf[b.MessageStream] : undefined;
    if (!stream)
      m.errors.push({
        path: `${base}/MessageStream`,
        message: `must be outbound, broadcast, ${Object.keys(streamOf).slice(2).join(', ')}`,
      });
    else m.body.stream = stream;
  }
  ignore(
    m,
    { TrackOpens: 'Postwarden does not track opens', TrackLinks: 'Postwarden does not rewrite links', InlineCss: 'HTML is sent as given' },
    { body: b, base },
  );
  return m;
}

/** Our error → Postmark's HTTP status and ErrorCode ("Overview: error codes"). */
function postmarkError(e: PostwardenError): { status: number; code: number; message: string } {
  const detail = oneLine(e);
  switch (e.code) {
    case 'UNAUTHENTICATED':
    case 'FORBIDDEN':
      return { status: 401, code: 10, message: `Bad or missing API token: ${e.message}` };
    case 'MALFORMED_REQUEST':
      return { status: 422, code: 402, message: `Invalid JSON: ${e.message}` };
    case 'UNSUPPORTED_MEDIA_TYPE':
      return { status: 422, code: 409, message: 'JSON required' };
    case 'SENDER_DOMAIN_NOT_ALLOWED':
      return { status: 422, code: 400, message: `Sender signature not found: ${detail}` };
    case 'SENDER_MISALIGNED':
      return { status: 422, code: 405, message: `Not allowed to send: ${detail}` };
    case 'RATE_LIMITED':
    case 'OVERLOADED':
      return { status: 429, code: 429, message: `Rate limit exceeded: ${e.message}` };
    default:
      if (errorCatalogue[e.code].status >= 500)
        return { status: errorCatalogue[e.code].status, code: 100, message: `Maintenance: ${e.message}` };
      return { status: 422, code: 300, message: `Invalid email request: ${detail}` };
  }
}

function sendError(reply: FastifyReply, e: PostwardenError) {
  const r = postmarkError(e);
  if (typeof e.details.retryAfter === 'number') reply.header('retry-after', String(Math.ceil(e.details.retryAfter)));
  return reply.code(r.status).send({ ErrorCode: r.code, Message: r.message });
}

/** Postmark answers 406 when every recipient is inactive (our suppression list); the message is kept, as suppressed. */
function answerFor(given: PostmarkEmail, accepted: AcceptedMessage, warnings: { path: string; message: string }[], now: number) {
  if (accepted.recipients.length && accepted.recipients.every((r) => r.state === 'suppressed')) {
    return {
      ok: false as const,
      body: {
        ErrorCode: 406,
        Message: `You tried to send to recipient(s) that have been marked as inactive: ${accepted.recipients.map((r) => `${r.email} (${r.suppression?.reason ?? 'suppressed'})`).join(', ')}. Message ${accepted.id}.`,
      },
    };
  }
  return {
    ok: true as const,
    body: {
      To: given.To ?? '',
      SubmittedAt: new Date(now).toISOString(),
      MessageID: accepted.id,
      ErrorCode: 0,
      Message: 'OK',
      ...(warnings.length ? { PostwardenWarnings: warnings } : {}),
    },
  };
}

export function postmarkRoutes(app: FastifyInstance, s: ApiServices): void {
  const typed = app.withTypeProvider<TypeBoxTypeProvider>();
  const common = {
    onRequest: async (request: FastifyRequest) => {
      const token = request.headers['x-postmark-server-token'];
      request.principal = await principalFromKey(s, request, typeof token === 'string' ? token : undefined, 'X-Postmark-Server-Token');
    },
    errorHandler: (error: unknown, request: FastifyRequest, reply: FastifyReply) => {
      const e = asPostwardenError(error);
      if (e.code === 'INTERNAL') request.log.error({ err: error }, 'unhandled error');
      return sendError(reply, e);
    },
  };
  const security = [{ postmarkServerToken: [] }];

  typed.post(
    '/compat/postmark/email',
    {
      ...common,
      schema: {
        tags: ['compat'],
        summary: 'Postmark-compatible send (POST /email)',
        description:
          "Postmark's single-send body and answer; authenticate with X-Postmark-Server-Token: <Postwarden API key>. " +
          'Errors carry Postmark ErrorCodes (10 bad token, 300 invalid request, 406 inactive recipient, 429 rate limit). See docs/migrating.md.',
        security,
        body: PostmarkEmail,
        response: {
          200: Answer,
          401: ErrorAnswer,
          422: ErrorAnswer,
          429: retrying(ErrorAnswer, 429),
          500: ErrorAnswer,
          503: retrying(ErrorAnswer, 503),
        },
      },
    },
    async (request, reply) => {
      const { accepted, warnings } = await sendMapped(s, request.principal!, fromPostmark(request.body));
      const a = answerFor(request.body, accepted, warnings, s.clock.now());
      return reply.code(a.ok ? 200 : 422).send(a.body);
    },
  );

  typed.post(
    '/compat/postmark/email/batch',
    {
      ...common,
      schema: {
        tags: ['compat'],
        summary: 'Postmark-compatible batch send (POST /email/batch)',
        description:
          'Up to 500 Postmark message bodies; the answer is one Postmark result per message, in order (ErrorCode 0 or the problem of that message, 429 when the rate refused it). ' +
          'More than 500 messages: 422 with ErrorCode 410.',
        security,
        body: Type.Array(PostmarkEmail, { examples: [[exampleOf(PostmarkEmail)]] }),
        // No 429: a message refused for the rate is one result of the 200 (ErrorCode 429), as Postmark does.
        response: {
          200: Type.Array(Answer, { examples: [[exampleOf(Answer)]] }),
          401: ErrorAnswer,
          422: ErrorAnswer,
          500: ErrorAnswer,
          503: retrying(ErrorAnswer, 503),
        },
      },
    },
    async (request, reply) => {
      if (request.body.length > 500 || request.body.length > s.limits.batchMax) {
        return reply.code(422).send({
          ErrorCode: 410,
          Message: `Too many batch messages: ${request.body.length}; the limit is ${Math.min(500, s.limits.batchMax)}.`,
        });
      }
      if (!request.body.length) throw validationError([{ path: '', message: 'must hold at least one message' }]);
      const results = await Promise.all(
        request.body.map(async (message, i) => {
          try {
            const { accepted, warnings } = await sendMapped(s, request.principal!, fromPostmark(message, `/${i}`));
            return answerFor(message, accepted, warnings, s.clock.now()).body;
          } catch (error) {
            const e = asPostwardenError(error);
            if (e.code === 'INTERNAL') throw error;
            const r = postmarkError(e);
            return { ErrorCode: r.code, Message: r.message };
          }
        }),
      );
      return reply.code(200).send(results);
    },
  );
}
