import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type Static, Type } from 'typebox';
import { errorCatalogue, type FieldError, type Mailbox, type PostwardenError, parseAddress, validationError } from '../../core/index.js';
import { retrying } from '../contract/problem-schema.js';
import type { ApiServices } from '../services.js';
import {
  asPostwardenError,
  bearerOf,
  emptyMapping,
  headerPairs,
  ignore,
  type MappedSend,
  oneLine,
  principalFromKey,
  sendMapped,
} from './compat-send.js';

/**
 * SES v2-compatible `SendEmail`: `POST /compat/ses/v2/email/outbound-emails` with the SES v2 JSON
 * body, answering `{ MessageId }`, and errors as AWS JSON errors (`__type`, `message`, and the
 * `x-amzn-ErrorType` header) with SES's status codes. Signature V4 is not spoken: the caller sends
 * our API key as `Authorization: Bearer …` (an SDK needs a middleware that sets it). Simple content
 * maps to our send; Raw content (a whole MIME message) goes through the same accept path as SMTP
 * submission. Written from the SES API v2 reference ("SendEmail", "Common errors");
 * docs/migrating.md has the field table.
 */
const Data = Type.Object({ Data: Type.String(), Charset: Type.Optional(Type.String()) });
const NameValue = Type.Object({ Name: Type.String(), Value: Type.String() });
const SesAttachment = Type.Object(
  {
    FileName: Type.String(),
    RawContent: Type.String({ description: 'base64 (a blob in SES JSON)' }),
    ContentType: Type.Optional(Type.String()),
    ContentId: Type.Optional(Type.String()),
    ContentDisposition: Type.Optional(Type.String()),
    ContentDescription: Type.Optional(Type.String()),
    ContentTransferEncoding: Type.Optional(Type.String()),
  },
  { additionalProperties: true },
);
const SendEmail = Type.Object(
  {
    FromEmailAddress: Type.Optional(Type.String()),
    Destination: Type.Optional(
      Type.Object({
        ToAddresses: Type.Optional(Type.Array(Type.String())),
        CcAddresses: Type.Optional(Type.Array(Type.String())),
        BccAddresses: Type.Optional(Type.Array(Type.String())),
      }),
    ),
    ReplyToAddresses: Type.Optional(Type.Array(Type.String())),
    Content: Type.Object(
      {
        Simple: Type.Optional(
          Type.Object({
            Subject: Data,
            Body: Type.Object({ Text: Type.Optional(Data), Html: Type.Optional(Data) }),
            Headers: Type.Optional(Type.Array(NameValue)),
            Attachments: Type.Optional(Type.Array(SesAttachment)),
          }),
        ),
        Raw: Type.Optional(Type.Object({ Data: Type.String({ description: 'The MIME message, base64' }) })),
        Template: Type.Optional(Type.Unknown({ description: 'Not supported: refused' })),
      },
      { additionalProperties: false },
    ),
    EmailTags: Type.Optional(Type.Array(NameValue, { description: 'Kept as message metadata' })),
    ConfigurationSetName: Type.Optional(Type.String({ description: 'Ignored, with a warning' })),
  },
  {
    additionalProperties: true,
    examples: [
      {
        FromEmailAddress: 'sender@example.com',
        Destination: { ToAddresses: ['recipient@example.net'] },
        Content: { Simple: { Subject: { Data: 'Test email' }, Body: { Text: { Data: 'Hello' } } } },
        EmailTags: [{ Name: 'campaign', Value: 'spring' }],
      },
    ],
  },
);
type SendEmail = Static<typeof SendEmail>;

const Answer = Type.Object(
  {
    MessageId: Type.String({ description: 'The Postwarden message id (msg_…)' }),
    PostwardenWarnings: Type.Optional(Type.Array(Type.Object({ path: Type.String(), message: Type.String() }))),
  },
  { examples: [{ MessageId: 'msg_01JD4Z9X0000000000000000' }] },
);
const ErrorAnswer = Type.Object(
  { __type: Type.String(), message: Type.String() },
  { examples: [{ __type: 'BadRequestException', message: 'Destination/ToAddresses/0: is not an email address' }] },
);

const warnCharset = (d: { Charset?: string } | undefined, path: string, m: MappedSend) => {
  if (d?.Charset && !/^utf-?8$/i.test(d.Charset))
    m.warnings.push({ path: `${path}/Charset`, message: `ignored: the text is JSON (Unicode) and is sent as UTF-8` });
};

/** SES Simple content → our send body. */
export function fromSesSimple(b: SendEmail): MappedSend {
  const m = emptyMapping();
  const simple = b.Content.Simple!;
  const set = (ours: string, path: string, value: unknown) => {
    m.paths[ours] = path;
    if (value !== undefined) m.body[ours] = value;
  };
  set('from', '/FromEmailAddress', b.FromEmailAddress);
  set('to', '/Destination/ToAddresses', b.Destination?.ToAddresses);
  set('cc', '/Destination/CcAddresses', b.Destination?.CcAddresses);
  set('bcc', '/Destination/BccAddresses', b.Destination?.BccAddresses);
  set('reply_to', '/ReplyToAddresses', b.ReplyToAddresses);
  set('subject', '/Content/Simple/Subject/Data', simple.Subject.Data);
  set('text', '/Content/Simple/Body/Text/Data', simple.Body.Text?.Data);
  set('html', '/Content/Simple/Body/Html/Data', simple.Body.Html?.Data);
  warnCharset(simple.Subject, '/Content/Simple/Subject', m);
  warnCharset(simple.Body.Text, '/Content/Simple/Body/Text', m);
  warnCharset(simple.Body.Html, '/Content/Simple/Body/Html', m);
  if (simple.Headers) set('headers', '/Content/Simple/Headers', headerPairs(m, simple.Headers, '/Content/Simple/Headers'));
  if (simple.Attachments) {
    set(
      'attachments',
      '/Content/Simple/Attachments',
      simple.Attachments.map((a, i) => {
        ignore(
          m,
          { ContentDescription: 'not written', ContentTransferEncoding: 'chosen by the platform' },
          { body: a, base: `/Content/Simple/Attachments/${i}` },
        );
        return {
          filename: a.FileName,
          content: a.RawContent,
          ...(a.ContentType ? { content_type: a.ContentType } : {}),
          ...(a.ContentId ? { content_id: a.ContentId } : {}),
        };
      }),
    );
  }
  tagsAndIgnored(b, m);
  return m;
}

function tagsAndIgnored(b: SendEmail, m: MappedSend): void {
  if (b.EmailTags) {
    m.body.metadata = Object.fromEntries(b.EmailTags.map((t) => [t.Name, t.Value]));
    m.paths.metadata = '/EmailTags';
  }
  ignore(
    m,
    {
      ConfigurationSetName: 'Postwarden has no configuration sets; events go to /v1/events and webhooks',
      FeedbackForwardingEmailAddress: 'bounces and complaints come back to Postwarden, see /v1/events',
      FromEmailAddressIdentityArn: 'no sending authorization policies',
      FeedbackForwardingEmailAddressIdentityArn: 'no sending authorization policies',
      ListManagementOptions: 'use the marketing stream and its unsubscribe',
      EndpointId: 'no multi-region endpoints',
      TenantName: 'the API key names the tenant',
    },
    { body: b },
  );
}

/** The envelope recipients of a Raw send: Destination, checked as addresses. */
function rawRecipients(b: SendEmail): Mailbox[] {
  const errors: FieldError[] = [];
  const out: Mailbox[] = [];
  for (const kind of ['ToAddresses', 'CcAddresses', 'BccAddresses'] as const) {
    (b.Destination?.[kind] ?? []).forEach((a, i) => {
      const parsed = parseAddress(a.replace(/^.*<([^>]*)>\s*$/, '$1'));
      if (parsed.ok) out.push(parsed.mailbox);
      else errors.push({ path: `/Destination/${kind}/${i}`, message: 'is not an email address' });
    });
  }
  if (!out.length && !errors.length) {
    errors.push({
      path: '/Destination',
      message: 'is required with Content/Raw: Postwarden does not read recipients from the message headers',
    });
  }
  if (errors.length) throw validationError(errors);
  return out;
}

/** Our error → SES's `__type` and status ("SendEmail: Errors", "Common Errors"). */
function sesError(e: PostwardenError): { status: number; type: string; message: string } {
  const message = oneLine(e);
  switch (e.code) {
    case 'UNAUTHENTICATED':
      return e.details.missing
        ? { status: 403, type: 'MissingAuthenticationTokenException', message }
        : { status: 403, type: 'UnrecognizedClientException', message };
    case 'FORBIDDEN':
      return { status: 403, type: 'AccessDeniedException', message };
    case 'SENDER_DOMAIN_NOT_ALLOWED':
    case 'SENDER_MISALIGNED':
    case 'MESSAGE_TOO_LARGE':
      return { status: 400, type: 'MessageRejected', message };
    case 'RATE_LIMITED':
    case 'OVERLOADED':
      return { status: 429, type: 'TooManyRequestsException', message };
    case 'IDEMPOTENCY_IN_PROGRESS':
      return { status: 409, type: 'ConflictException', message };
    default: {
      const status = errorCatalogue[e.code].status;
      return status >= 500
        ? { status, type: 'InternalServiceErrorException', message }
        : { status: 400, type: 'BadRequestException', message };
    }
  }
}

export function sesRoutes(app: FastifyInstance, s: ApiServices): void {
  app.withTypeProvider<TypeBoxTypeProvider>().post(
    '/compat/ses/v2/email/outbound-emails',
    {
      onRequest: async (request: FastifyRequest) => {
        request.principal = await principalFromKey(
          s,
          request,
          bearerOf(request),
          'Authorization: Bearer <key> (Signature V4 is not spoken)',
        );
      },
      errorHandler: (error: unknown, request: FastifyRequest, reply: FastifyReply) => {
        const e = asPostwardenError(error);
        if (e.code === 'INTERNAL') request.log.error({ err: error }, 'unhandled error');
        const r = sesError(e);
        if (typeof e.details.retryAfter === 'number') reply.header('retry-after', String(Math.ceil(e.details.retryAfter)));
        return reply.code(r.status).header('x-amzn-errortype', r.type).send({ __type: r.type, message: r.message });
      },
      schema: {
        tags: ['compat'],
        summary: 'SES v2-compatible SendEmail (POST /v2/email/outbound-emails)',
        description:
          'The SES v2 SendEmail body (Simple or Raw content) and answer ({MessageId}); authenticate with Authorization: Bearer ' +
          '<Postwarden API key> instead of Signature V4. Errors are AWS JSON errors (__type, message, x-amzn-ErrorType) with ' +
          'SES status codes: BadRequestException, MessageRejected, TooManyRequestsException… See docs/migrating.md.',
        body: SendEmail,
        response: {
          200: Answer,
          400: ErrorAnswer,
          403: ErrorAnswer,
          409: ErrorAnswer,
          429: retrying(ErrorAnswer, 429),
          500: ErrorAnswer,
          503: retrying(ErrorAnswer, 503),
        },
      },
    },
    async (request) => {
      const b = request.body;
      const p = request.principal!;
      const kinds = (['Simple', 'Raw', 'Template'] as const).filter((k) => b.Content[k] !== undefined);
      if (kinds.length !== 1) throw validationError([{ path: '/Content', message: 'must hold exactly one of Simple, Raw or Template' }]);
      if (b.Content.Template !== undefined) {
        throw validationError([{ path: '/Content/Template', message: 'SES templates are not supported; send Simple or Raw content' }]);
      }
      if (b.Content.Raw) {
        const m = emptyMapping();
        tagsAndIgnored(b, m);
        if (b.FromEmailAddress !== undefined)
          m.warnings.push({ path: '/FromEmailAddress', message: 'ignored with Raw content: the From header of the message is used' });
        if (b.ReplyToAddresses !== undefined)
          m.warnings.push({ path: '/ReplyToAddresses', message: 'ignored with Raw content: the message carries its headers' });
        if (b.EmailTags) m.warnings.push({ path: '/EmailTags', message: 'ignored with Raw content: a raw message carries no metadata' });
        const raw = Buffer.from(b.Content.Raw.Data, 'base64');
        const accepted = await s.accept.acceptSubmitted(p, rawRecipients(b), raw);
        return { MessageId: accepted.id, ...(m.warnings.length ? { PostwardenWarnings: m.warnings } : {}) };
      }
      const { accepted, warnings } = await sendMapped(s, p, fromSesSimple(b));
      return { MessageId: accepted.id, ...(warnings.length ? { PostwardenWarnings: warnings } : {}) };
    },
  );
}
