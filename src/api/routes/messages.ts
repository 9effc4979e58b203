import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { Type } from 'typebox';
import { parseSendRequest } from '../../accept/index.js';
import { isPostwardenError, streams, validationError } from '../../core/index.js';
import type { RecipientRow } from '../../store/index.js';
import { AUTHED, IDEMPOTENT, JSON_BODY, jsonOrProblem, ProblemJson, problems } from '../contract/problem-schema.js';
import { principalOf } from '../plugins/auth.js';
import { problemFor } from '../plugins/problem.js';
import type { ApiServices } from '../services.js';
import { TemplateRef } from './content-schemas.js';
import {
  AcceptedJson,
  acceptedJson,
  EventJson,
  eventJson,
  MessageJson,
  messageJson,
  RecipientJson,
  recipientJson,
  SendWarnings,
  SuppressionWhyJson,
  suppressionWhy,
} from './json.js';

/**
 * POST /v1/messages and /v1/messages/batch, GET /v1/messages[/{id}].
 *
 * The send body is checked by parseSendRequest (richer than a JSON schema: it accepts the address
 * shapes people use and reports each problem by JSON path). SendBody below documents what it
 * accepts in OpenAPI; it is declared through Type.Unsafe<unknown> so the handler sees the body as
 * unknown until parseSendRequest has read it, and the route skips schema validation.
 */
const Address = Type.Union([
  Type.String({ description: 'An address, "Name <address>", or several separated by commas.', examples: ['Ada <ada@example.org>'] }),
  Type.Object({ email: Type.String(), name: Type.Optional(Type.String()) }, { examples: [{ email: 'ada@example.org', name: 'Ada' }] }),
]);
const Addresses = Type.Union([Address, Type.Array(Address)]);
const sendExample = {
  from: 'Shop <shop@example.com>',
  to: ['Ada <ada@example.org>'],
  subject: 'Your receipt',
  text: 'Thank you for your order.',
  html: '<p>Thank you for your order.</p>',
  tags: ['receipt'],
  metadata: { order: 'A-1001' },
  stream: 'transactional',
};
export const SendBody = Type.Object(
  {
    from: Address,
    to: Type.Optional(Addresses),
    cc: Type.Optional(Addresses),
    bcc: Type.Optional(Addresses),
    reply_to: Type.Optional(Addresses),
    subject: Type.Optional(Type.String({ maxLength: 998, description: 'No line breaks. Required unless template is given.' })),
    text: Type.Optional(Type.String({ description: 'text or html (or both) is required.' })),
    html: Type.Optional(Type.String()),
    headers: Type.Optional(
      Type.Record(Type.String(), Type.String(), {
        description: 'Extra header fields; those the platform sets (From, To, Message-ID, …) are refused.',
      }),
    ),
    attachments: Type.Optional(
      Type.Array(
        Type.Object(
          {
            filename: Type.String(),
            content: Type.String({ description: 'base64' }),
            content_type: Type.Optional(Type.String({ description: 'A media type such as application/pdf.' })),
            content_id: Type.Optional(Type.String({ description: 'For inline images referenced as cid: in the html.' })),
            encoding: Type.Optional(Type.Literal('base64', { description: 'How content is encoded; base64 is the only value.' })),
          },
          { additionalProperties: false },
        ),
      ),
    ),
    tags: Type.Optional(Type.Array(Type.String({ pattern: '^[A-Za-z0-9_.:-]{1,64}$' }), { maxItems: 20 })),
    metadata: Type.Optional(Type.Record(Type.String(), Type.String(), { description: 'Kept with the message and its events.' })),
    stream: Type.Optional(Type.Enum(streams, { type: 'string', default: 'transactional' })),
    send_at: Type.Optional(
      Type.String({ description: 'RFC 3339 time to send at (up to limits.maxScheduleDays ahead); cancellable until then.' }),
    ),
    template: Type.Optional(TemplateRef),
    tracking: Type.Optional(
      Type.Object(
        { opens: Type.Optional(Type.Boolean()), clicks: Type.Optional(Type.Boolean()) },
        { description: 'Open and click tracking for this message (docs/tracking.md); default: the stream setting, off.' },
      ),
    ),
    experiment: Type.Optional(
      Type.Object({ id: Type.String() }, { description: 'Send as part of an A/B experiment (docs/experiments.md); one recipient.' }),
    ),
    list_id: Type.Optional(Type.String({ description: "A list import's first sends are drip-fed (docs/lists.md)." })),
    classification: Type.Optional(
      Type.String({
        description:
          'public, internal, confidential, pii, phi, pci or a tenant-defined name; tags and DLP checks may raise others (docs/classification.md).',
      }),
    ),
  },
  {
    additionalProperties: false,
    description: 'At least one recipient in to, cc or bcc. Every invalid field is reported at once, each with its JSON path.',
    examples: [sendExample],
  },
);
const SendQuery = Type.Object({
  mode: Type.Optional(
    Type.Enum(['queue', 'sync'], { type: 'string', description: 'sync waits (up to wait_ms) for the first outcome of each recipient.' }),
  ),
  wait_ms: Type.Optional(
    Type.Integer({ minimum: 100, maximum: 120000, description: 'How long sync mode waits (at most limits.syncWaitMs).' }),
  ),
});
const noValidation = () => () => true;

/** The answer of a synchronous send: each recipient's state after its first outcome (or the wait). */
const SyncJson = Type.Object(
  {
    id: Type.String(),
    status: Type.Enum(['completed', 'pending'], { type: 'string', description: 'completed: every recipient has a first outcome.' }),
    stream: Type.Enum(streams, { type: 'string' }),
    sandbox: Type.Boolean(),
    recipients: Type.Array(
      Type.Object({ ...RecipientJson.properties, suppression: Type.Optional(SuppressionWhyJson) }, { additionalProperties: false }),
    ),
    warnings: Type.Optional(SendWarnings),
  },
  {
    additionalProperties: false,
    examples: [
      {
        id: 'msg_01JD7Y3H2C9M',
        status: 'completed',
        stream: 'transactional',
        sandbox: false,
        recipients: [
          {
            id: 'rcp_01JD7Y3H2D1P',
            email: 'ada@example.org',
            kind: 'to',
            state: 'delivered',
            attempts: 1,
            next_attempt_at: null,
            last_reply: { code: 250, text: '2.0.0 OK' },
            updated_at: '2026-01-05T11:02:03.000Z',
          },
        ],
      },
    ],
  },
);
const BatchResult = Type.Object(
  {
    accepted: Type.Integer({ description: 'Messages accepted.' }),
    rejected: Type.Integer({ description: 'Messages refused, each with its problem.' }),
    messages: Type.Array(Type.Union([AcceptedJson, Type.Object({ error: ProblemJson }, { additionalProperties: false })]), {
      description: 'One result per message, in the order sent; paths in errors start with /messages/<index>.',
    }),
  },
  {
    additionalProperties: false,
    description: 'Per message: its acceptance or its problem',
    examples: [
      {
        accepted: 1,
        rejected: 1,
        messages: [
          { id: 'msg_01JD7Y3H2C9M', status: 'queued', stream: 'transactional', sandbox: false, recipients: [] },
          {
            error: {
              type: 'urn:postwarden:error:VALIDATION_FAILED',
              title: 'The request is well-formed but one or more fields are invalid.',
              status: 422,
              detail: 'The request has invalid fields.',
              code: 'VALIDATION_FAILED',
              errors: [{ path: '/messages/1/subject', message: 'is required' }],
            },
          },
        ],
      },
    ],
  },
);
const MessageDetail = Type.Object(
  {
    ...MessageJson.properties,
    state: Type.Enum(['queued', 'in_progress', 'completed'], { type: 'string', description: "Derived from the recipients' states." }),
    recipients: Type.Array(RecipientJson),
    events: Type.Array(EventJson, { description: 'The timeline, in order.' }),
  },
  {
    additionalProperties: false,
    examples: [
      {
        id: 'msg_01JD7Y3H2C9M',
        from: 'Shop <shop@example.com>',
        subject: 'Your receipt',
        stream: 'transactional',
        size: 2048,
        message_id_header: '<msg_01JD7Y3H2C9M@example.com>',
        tags: ['receipt'],
        metadata: { order: 'A-1001' },
        source: 'api',
        sandbox: false,
        created_at: '2026-01-05T11:02:00.000Z',
        identity: null,
        state: 'completed',
        recipients: [],
        events: [],
      },
    ],
  },
);
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function messageRoutes(app: FastifyInstance, s: ApiServices): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  /** Waits (bounded) until every queued recipient has a first outcome; polls the store so it works across nodes. */
  async function waitForOutcomes(messageIds: string[], waitMs: number): Promise<{ rows: RecipientRow[]; complete: boolean }> {
    const deadline = s.clock.now() + waitMs;
    let delay = 10;
    for (let i = 0; i < 10_000; i++) {
      const rows = await s.spine.recipientsOf(messageIds);
      const pending = rows.some((r) => r.state === 'queued' || (r.state === 'in_flight' && r.attempts <= 1));
      if (!pending || s.clock.now() >= deadline) return { rows, complete: !pending };
      await new Promise((r) => setTimeout(r, Math.min(delay, Math.max(1, deadline - s.clock.now()))));
      delay = Math.min(delay * 2, 200);
    }
    return { rows: await s.spine.recipientsOf(messageIds), complete: false };
  }

  r.post(
    '/messages',
    {
      config: { scope: 'send' },
      schema: {
        tags: ['messages'],
        summary: 'Send a message',
        description:
          'Accepts the message durably and answers 202 with the message id and each recipient (suppressed recipients say why). ' +
          'With mode=sync the answer waits up to wait_ms for the first outcomes: 200 when all arrived, 202 (status pending) when not. ' +
          'Send an Idempotency-Key to retry safely.',
        body: Type.Unsafe<unknown>(SendBody),
        querystring: Type.Unsafe<Record<string, string | undefined>>(SendQuery),
        response: {
          200: SyncJson,
          202: Type.Union([AcceptedJson, SyncJson], {
            description: 'Accepted (queue mode), or sync mode still waiting on some recipient.',
            examples: [
              {
                id: 'msg_01JD7Y3H2C9M',
                status: 'queued',
                stream: 'transactional',
                sandbox: false,
                recipients: [{ id: 'rcp_01JD7Y3H2D1P', email: 'ada@example.org', state: 'queued' }],
              },
            ],
          }),
          ...problems(...AUTHED, ...JSON_BODY, ...IDEMPOTENT, 429),
        },
      },
      validatorCompiler: noValidation,
    },
    async (request, reply) => {
      const p = principalOf(request);
      const mode = parseMode(request.query, s.limits.syncWaitMs);
      const parsed = parseSendRequest(request.body);
      if (!parsed.ok) throw validationError(parsed.errors);
      const accepted = await s.accept.acceptRequest(p, parsed.request);
      if (mode.mode !== 'sync') return reply.code(202).send(acceptedJson(accepted, parsed.warnings));
      const { rows, complete } = await waitForOutcomes([accepted.id], mode.waitMs);
      return reply.code(complete ? 200 : 202).send({
        ...acceptedJson(accepted, parsed.warnings),
        status: complete ? 'completed' : 'pending',
        // A suppressed recipient keeps the why of the accept answer.
        recipients: rows.map((r) => {
          const why = accepted.recipients.find((a) => a.id === r.id)?.suppression;
          return { ...recipientJson(r), ...(why ? { suppression: suppressionWhy(why) } : {}) };
        }),
      });
    },
  );

  r.post(
    '/messages/batch',
    {
      config: { scope: 'send' },
      schema: {
        tags: ['messages'],
        summary: 'Send a batch of messages',
        description:
          'Up to limits.batchMax (500) messages, each accepted or refused on its own: 202 when at least one was accepted, ' +
          '422 with the same per-message results when none was. A batch that is not a list answers 422 problem+json.',
        body: Type.Unsafe<unknown>(
          Type.Object(
            { messages: Type.Array(SendBody, { minItems: 1, maxItems: 500 }) },
            { additionalProperties: false, examples: [{ messages: [sendExample, { ...sendExample, to: 'Grace <grace@example.org>' }] }] },
          ),
        ),
        response: {
          202: BatchResult,
          ...problems(...AUTHED, ...JSON_BODY, ...IDEMPOTENT),
          ...jsonOrProblem(422, BatchResult),
        },
      },
      validatorCompiler: noValidation,
    },
    async (request, reply) => {
      const p = principalOf(request);
      // Residency refuses the whole batch (403), not each message of it.
      s.accept.checkResidency(p);
      const messages = isRecord(request.body) ? request.body.messages : undefined;
      if (!Array.isArray(messages)) throw validationError([{ path: '/messages', message: 'must be a list of messages' }]);
      if (messages.length === 0 || messages.length > s.limits.batchMax) {
        throw validationError([{ path: '/messages', message: `must hold 1 to ${s.limits.batchMax} messages` }]);
      }
      const results = await Promise.all(
        messages.map(async (m: unknown, i) => {
          const parsed = parseSendRequest(m);
          try {
            if (!parsed.ok) throw validationError(parsed.errors);
            const warnings = parsed.warnings.map((w) => ({ path: `/messages/${i}${w.path}`, message: w.message }));
            return acceptedJson(await s.accept.acceptRequest(p, parsed.request), warnings);
          } catch (e) {
            if (!isPostwardenError(e)) throw e;
            const { errors, retryAfter: _r, ...rest } = e.details;
            const prefixed = errors?.map((x) => ({ path: `/messages/${i}${x.path}`, message: x.message }));
            return { error: problemFor(e.code, e.message, { ...(prefixed ? { errors: prefixed } : {}), ...rest }) };
          }
        }),
      );
      const accepted = results.filter((r) => !('error' in r)).length;
      const body = { accepted, rejected: results.length - accepted, messages: results };
      if (accepted) return reply.code(202).send(body);
      // 422 is declared per content type (these results, or a problem), which the type provider does not resolve.
      const untyped: FastifyReply = reply;
      return untyped.code(422).type('application/json').send(body);
    },
  );

  r.get(
    '/messages/:id',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['messages'],
        summary: 'A message with its recipients and timeline',
        description: "The message, each recipient's state and last reply, and every event of the message in order.",
        params: Type.Object({ id: Type.String({ description: 'Message id (msg_…).', examples: ['msg_01JD7Y3H2C9M'] }) }),
        response: { 200: MessageDetail, ...problems(...AUTHED, 404) },
      },
    },
    async (request) => {
      const p = principalOf(request);
      const view = await s.spine.message(p.tenant.id, request.params.id);
      return {
        ...messageJson(view.message),
        state: view.state,
        recipients: view.recipients.map(recipientJson),
        events: view.events.map(eventJson),
      };
    },
  );
  // GET /v1/messages (list and search) lives in message-search.ts.
}

/** The query of a send; validated by hand because the route's body skips schema validation. */
function parseMode(q: Record<string, string | undefined>, maxWaitMs: number): { mode: 'queue' | 'sync'; waitMs: number } {
  const errors = [];
  if (q.mode !== undefined && q.mode !== 'queue' && q.mode !== 'sync')
    errors.push({ path: '/query/mode', message: 'must be queue or sync' });
  const wait = q.wait_ms === undefined ? maxWaitMs : Number(q.wait_ms);
  if (!Number.isInteger(wait) || wait < 100 || wait > maxWaitMs)
    errors.push({ path: '/query/wait_ms', message: `must be an integer from 100 to ${maxWaitMs}` });
  if (errors.length) throw validationError(errors);
  return { mode: q.mode === 'sync' ? 'sync' : 'queue', waitMs: wait };
}
