import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { recipientStates } from '../../core/index.js';
import { AUTHED, IDEMPOTENT, JSON_BODY, problems, problemWith } from '../contract/problem-schema.js';
import { principalOf } from '../plugins/auth.js';
import type { ApiServices } from '../services.js';
import { MessageJson, messageJson, RecipientJson, recipientJson } from './json.js';

/**
 * POST /v1/messages/{id}/cancel and PATCH /v1/messages/{id}: changes to a message after it was
 * accepted (src/accept/message-changes.ts holds the rules; docs/messages.md explains them).
 */
const Params = Type.Object({
  id: Type.String({ pattern: '^msg_', description: 'The message id', examples: ['msg_01JD4Z9X0000000000000000'] }),
});

const RecipientState = Type.Enum(recipientStates, { description: 'docs/events.md "Recipient states"' });
/** One definition of a recipient's JSON (json.ts), as GET /v1/messages/{id} shows it. */
const Recipient = RecipientJson;

const CancelBody = Type.Object(
  {
    recipients: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 320 }), {
        minItems: 1,
        maxItems: 1000,
        description: 'Recipient ids (rcp_…) or addresses; absent, every recipient of the message',
      }),
    ),
    reason: Type.Optional(Type.String({ maxLength: 500, description: 'Kept on each recipient.cancelled event' })),
  },
  {
    additionalProperties: false,
    description: 'Optional; an empty body cancels every waiting recipient of the message',
    examples: [{ recipients: ['ann@example.net'], reason: 'order withdrawn' }, {}],
  },
);

const CancelAnswer = Type.Object(
  {
    message_id: Type.String(),
    cancelled: Type.Array(Recipient, { description: 'Recipients this request cancelled (one recipient.cancelled event each)' }),
    unchanged: Type.Array(Recipient, { description: 'Recipients left as they were: cancelled before, or finished' }),
  },
  {
    examples: [
      {
        message_id: 'msg_01JD4Z9X0000000000000000',
        cancelled: [
          {
            id: 'rcp_01JD4Z9X0000000000000001',
            email: 'ann@example.net',
            kind: 'to',
            state: 'cancelled',
            attempts: 1,
            next_attempt_at: null,
            last_reply: { code: 451, enhanced: '4.7.1', text: 'try later' },
            updated_at: '2026-11-23T09:05:00.000Z',
          },
        ],
        unchanged: [],
      },
    ],
  },
);

const NotCancellable = problemWith(
  409,
  {
    recipients: Type.Optional(
      Type.Array(Type.Object({ id: Type.String(), email: Type.String(), state: RecipientState, reason: Type.String() }), {
        description: 'NOT_CANCELLABLE: each recipient that could not be cancelled, its state and why',
      }),
    ),
  },
  {
    description:
      'NOT_CANCELLABLE: nothing was cancelled, a recipient is finished or in flight (each listed in `recipients` with its state); ' +
      'or IDEMPOTENCY_IN_PROGRESS: a request with this Idempotency-Key is still running (retry after Retry-After seconds)',
    example: {
      type: 'urn:postwarden:error:NOT_CANCELLABLE',
      title: 'The message cannot be cancelled.',
      status: 409,
      detail: 'A recipient is in flight.',
      code: 'NOT_CANCELLABLE',
      recipients: [{ id: 'rcp_01J…', email: 'ada@example.org', state: 'in_flight', reason: 'a delivery worker holds it' }],
    },
  },
);

const LabelsBody = Type.Object(
  {
    tags: Type.Optional(Type.Array(Type.String(), { maxItems: 20, description: 'Replaces the tags' })),
    metadata: Type.Optional(
      Type.Record(Type.String(), Type.Union([Type.Null(), Type.String()]), {
        description: 'Merged into the metadata (RFC 7396): a key set to null is removed',
      }),
    ),
  },
  { additionalProperties: false, minProperties: 1, examples: [{ tags: ['invoice', 'paid'], metadata: { order: '1234', draft: null } }] },
);

const MessageAnswer = Type.Object(
  { ...MessageJson.properties },
  {
    examples: [
      {
        id: 'msg_01JD4Z9X0000000000000000',
        from: 'hello@example.com',
        subject: 'Your invoice',
        stream: 'transactional',
        size: 1834,
        message_id_header: '<msg_01jd4z9x0000000000000000@pw.example>',
        tags: ['invoice', 'paid'],
        metadata: { order: '1234' },
        source: 'api',
        sandbox: false,
        created_at: '2026-11-23T09:00:00.000Z',
        identity: null,
        template: null,
      },
    ],
  },
);

export function messageChangeRoutes(app: FastifyInstance, s: ApiServices): void {
  const typed = app.withTypeProvider<TypeBoxTypeProvider>();

  typed.post(
    '/messages/:id/cancel',
    {
      config: { scope: 'send' },
      // The body is optional: a POST without one (no Content-Type) cancels the whole message.
      preValidation: async (request) => {
        if (request.body === undefined || request.body === null) request.body = {};
      },
      schema: {
        tags: ['messages'],
        summary: 'Cancel recipients that have not been handed over yet',
        description:
          'Cancels queued (including not yet due) and deferred recipients, in one transaction with a recipient.cancelled ' +
          'event each. A recipient a delivery worker holds right now (in_flight), or one already delivered, bounced, ' +
          'expired, failed or suppressed, cannot be cancelled: when the request names it, or when the whole message is ' +
          'cancelled and one is in flight or none is waiting, the answer is 409 NOT_CANCELLABLE listing each such ' +
          'recipient and its state, and nothing changes. Cancelling a cancelled recipient again changes nothing.',
        params: Params,
        body: CancelBody,
        response: {
          200: CancelAnswer,
          // 409 is NotCancellable's (IDEMPOTENT's 409 shares it); 422 also covers a malformed Idempotency-Key.
          ...problems(...AUTHED, ...JSON_BODY, ...IDEMPOTENT.filter((x) => x !== 409), 404),
          ...NotCancellable,
        },
      },
    },
    async (request) => {
      const p = principalOf(request);
      const body = request.body;
      const r = await s.messageChanges.cancel(p, request.params.id, {
        ...(body.recipients ? { recipients: body.recipients } : {}),
        ...(body.reason !== undefined ? { reason: body.reason } : {}),
      });
      return { message_id: r.message.id, cancelled: r.cancelled.map(recipientJson), unchanged: r.unchanged.map(recipientJson) };
    },
  );

  typed.patch(
    '/messages/:id',
    {
      config: { scope: 'send' },
      schema: {
        tags: ['messages'],
        summary: "Change a sent message's tags and metadata",
        description:
          'Replaces the tags and merges the metadata (a key set to null is removed), recorded as a message.updated event ' +
          'with the values before and after. The message itself (headers, body, recipients) never changes.',
        params: Params,
        body: LabelsBody,
        response: { 200: MessageAnswer, ...problems(...AUTHED, ...JSON_BODY, 404) },
      },
    },
    async (request) => {
      const p = principalOf(request);
      const m = await s.messageChanges.updateLabels(p, request.params.id, request.body);
      return messageJson(m);
    },
  );
}
