import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { eventTypes, streams } from '../../core/index.js';
import type { WebhookAttemptRow, WebhookEndpointRow } from '../../store/index.js';
import { AUTHED, IDEMPOTENT, JSON_BODY, problems } from '../contract/problem-schema.js';
import { actorOf } from '../plugins/actor.js';
import { principalOf } from '../plugins/auth.js';
import type { ApiServices } from '../services.js';
import { iso } from './json.js';

/**
 * /v1/webhooks: a tenant's endpoints for signed event delivery (docs/webhooks.md). The secret is in
 * the answers to create and rotate-secret only; it is stored sealed and never shown again.
 */
/** Every route: a key (AUTHED). `{id}` is checked against its pattern (422) and looked up (404). */
const byId = problems(...AUTHED, 404, 422);

const EventTypeList = Type.Array(Type.Union(eventTypes.map((t) => Type.Literal(t))), {
  description: 'Event types to send; omitted or empty: every type.',
});
const StreamList = Type.Array(Type.Union(streams.map((s) => Type.Literal(s))), {
  description: 'Only events of messages in these streams; omitted or empty: all.',
});
const DomainList = Type.Array(Type.String({ minLength: 1, maxLength: 253 }), {
  description: 'Only events of messages sent from these domains (or about them: dns.*); omitted or empty: all.',
});
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

const WebhookExample = {
  id: 'wh_01JD3Q7M5X0000000000000000',
  url: 'https://app.example.com/hooks/postwarden',
  description: 'bounces into the CRM',
  events: ['recipient.bounced', 'recipient.complained'],
  streams: null,
  domains: null,
  batch_size: 1,
  state: 'enabled',
  disabled_reason: null,
  disabled_at: null,
  previous_secret_expires_at: null,
  created_at: '2026-12-06T10:00:00.000Z',
  updated_at: '2026-12-06T10:00:00.000Z',
};

const webhookProperties = {
  id: Type.String({ description: 'wh_…' }),
  url: Type.String(),
  description: Type.String(),
  events: Nullable(Type.Array(Type.String())),
  streams: Nullable(Type.Array(Type.String())),
  domains: Nullable(Type.Array(Type.String())),
  batch_size: Type.Integer({ description: 'Events per POST; above 1 the body is a JSON array.' }),
  state: Type.Union([Type.Literal('enabled'), Type.Literal('disabled')]),
  disabled_reason: Nullable(Type.String()),
  disabled_at: Nullable(Type.String({ format: 'date-time' })),
  previous_secret_expires_at: Nullable(
    Type.String({ format: 'date-time', description: 'Until then the previous secret signs too (after rotate-secret).' }),
  ),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
};
const Webhook = Type.Object(webhookProperties, { examples: [WebhookExample] });
const WebhookWithSecret = Type.Object(
  { ...webhookProperties, secret: Type.String({ description: 'whsec_…: shown in this answer only; verify signatures with it.' }) },
  { examples: [{ ...WebhookExample, secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' }] },
);

const attemptProperties = {
  id: Type.String({ description: 'wha_…' }),
  event_ids: Type.Array(Type.String(), { description: 'The events this POST carried (several when batched).' }),
  attempt: Type.Integer({ description: 'Which try of these events this was (1 = first).' }),
  at: Type.String({ format: 'date-time' }),
  outcome: Type.Union([Type.Literal('succeeded'), Type.Literal('failed')]),
  status: Nullable(Type.Integer({ description: 'HTTP status; null when no answer came (connection refused, timeout).' })),
  latency_ms: Type.Integer(),
  error: Nullable(Type.String()),
  response_excerpt: Nullable(Type.String({ description: 'The first kilobyte of the answer body.' })),
};
const AttemptExample = {
  id: 'wha_01JD3Q7M5X0000000000000000',
  event_ids: ['evt_01JD3Q7M5X0000000000000000'],
  attempt: 1,
  at: '2026-12-06T10:00:01.000Z',
  outcome: 'succeeded',
  status: 200,
  latency_ms: 42,
  error: null,
  response_excerpt: 'ok',
};
const Attempt = Type.Object(attemptProperties, { examples: [AttemptExample] });

const IdParams = Type.Object({ id: Type.String({ pattern: '^wh_[0-9A-Z]{26}$', description: 'The webhook id (wh_…)' }) });

const CreateBody = Type.Object(
  {
    url: Type.String({ minLength: 1, maxLength: 2048, description: 'Where events are POSTed (a public http(s) address).' }),
    events: Type.Optional(EventTypeList),
    streams: Type.Optional(StreamList),
    domains: Type.Optional(DomainList),
    description: Type.Optional(Type.String({ maxLength: 500 })),
    batch_size: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'Events per POST (default 1).' })),
  },
  {
    additionalProperties: false,
    examples: [{ url: 'https://app.example.com/hooks/postwarden', events: ['recipient.bounced', 'recipient.complained'] }],
  },
);
const PatchBody = Type.Object(
  {
    url: Type.Optional(CreateBody.properties.url),
    events: Type.Optional(EventTypeList),
    streams: Type.Optional(StreamList),
    domains: Type.Optional(DomainList),
    description: Type.Optional(Type.String({ maxLength: 500 })),
    batch_size: Type.Optional(CreateBody.properties.batch_size),
    disabled: Type.Optional(Type.Boolean({ description: 'false re-enables a disabled endpoint; true disables it.' })),
  },
  { additionalProperties: false, examples: [{ events: ['recipient.bounced'] }, { disabled: false }] },
);
const ReplayBody = Type.Object(
  {
    from: Type.String({ minLength: 1, description: 'ISO time (inclusive) or a cursor (exclusive).' }),
    to: Type.String({ minLength: 1, description: 'ISO time (exclusive) or a cursor (inclusive).' }),
    types: Type.Optional(EventTypeList),
    message_id: Type.Optional(Type.String({ description: 'Only the events of this message.' })),
  },
  { additionalProperties: false, examples: [{ from: '2026-12-05T00:00:00Z', to: '2026-12-06T00:00:00Z', types: ['recipient.bounced'] }] },
);

function webhookJson(e: WebhookEndpointRow) {
  return {
    id: e.id,
    url: e.url,
    description: e.description,
    events: e.eventTypes,
    streams: e.streams,
    domains: e.domains,
    batch_size: e.batchSize,
    state: e.state,
    disabled_reason: e.disabledReason,
    disabled_at: iso(e.disabledAt),
    previous_secret_expires_at: iso(e.previousSecretExpiresAt),
    created_at: iso(e.createdAt)!,
    updated_at: iso(e.updatedAt)!,
  };
}

function attemptJson(a: WebhookAttemptRow) {
  return {
    id: a.id,
    event_ids: a.eventIds,
    attempt: a.attempt,
    at: iso(a.at)!,
    outcome: a.outcome,
    status: a.status,
    latency_ms: a.latencyMs,
    error: a.error,
    response_excerpt: a.responseExcerpt,
  };
}

export function webhookRoutes(fastify: FastifyInstance, s: ApiServices): void {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['webhooks'];

  app.post(
    '/webhooks',
    {
      config: { scope: 'admin' },
      schema: {
        tags,
        summary: 'Create a webhook endpoint',
        description: 'Events of this tenant are POSTed to the URL, signed per Standard Webhooks. The secret is shown once, here.',
        body: CreateBody,
        response: { 201: WebhookWithSecret, ...problems(...AUTHED, ...JSON_BODY, ...IDEMPOTENT) },
      },
    },
    async (request, reply) => {
      const b = request.body;
      const { endpoint, secret } = await s.webhooks.create(
        principalOf(request).tenant.id,
        {
          url: b.url,
          events: b.events,
          streams: b.streams,
          domains: b.domains,
          description: b.description,
          batchSize: b.batch_size,
        },
        actorOf(request),
      );
      return reply.code(201).send({ ...webhookJson(endpoint), secret });
    },
  );

  app.get(
    '/webhooks',
    {
      config: { scope: 'read' },
      schema: {
        tags,
        summary: "List the tenant's webhook endpoints",
        description: 'Every endpoint, oldest first; secrets are never listed.',
        response: { 200: Type.Object({ data: Type.Array(Webhook) }, { examples: [{ data: [WebhookExample] }] }), ...problems(...AUTHED) },
      },
    },
    async (request) => ({ data: (await s.webhooks.list(principalOf(request).tenant.id)).map(webhookJson) }),
  );

  app.get(
    '/webhooks/:id',
    {
      config: { scope: 'read' },
      schema: {
        tags,
        summary: 'One webhook endpoint',
        description: 'Its filters and state (enabled, or disabled and why).',
        params: IdParams,
        response: { 200: Webhook, ...byId },
      },
    },
    async (request) => webhookJson(await s.webhooks.get(principalOf(request).tenant.id, request.params.id)),
  );

  app.patch(
    '/webhooks/:id',
    {
      config: { scope: 'admin' },
      schema: {
        tags,
        summary: 'Change a webhook endpoint',
        description: 'Fields given replace the stored ones; an empty list clears a filter. disabled:false re-enables a disabled endpoint.',
        params: IdParams,
        body: PatchBody,
        response: { 200: Webhook, ...byId, ...problems(...JSON_BODY) },
      },
    },
    async (request) => {
      const b = request.body;
      const e = await s.webhooks.update(
        principalOf(request).tenant.id,
        request.params.id,
        {
          url: b.url,
          events: b.events,
          streams: b.streams,
          domains: b.domains,
          description: b.description,
          batchSize: b.batch_size,
          disabled: b.disabled,
        },
        actorOf(request),
      );
      return webhookJson(e);
    },
  );

  app.delete(
    '/webhooks/:id',
    {
      config: { scope: 'admin' },
      schema: {
        tags,
        summary: 'Delete a webhook endpoint',
        description: 'Deliveries still owed to it are given up.',
        params: IdParams,
        response: { 204: Type.Null({ description: 'Deleted' }), ...byId },
      },
    },
    async (request, reply) => {
      await s.webhooks.remove(principalOf(request).tenant.id, request.params.id, actorOf(request));
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/webhooks/:id/rotate-secret',
    {
      config: { scope: 'admin' },
      schema: {
        tags,
        summary: 'Rotate the signing secret',
        description:
          'A new secret signs from now on; the previous one signs too (a second signature) until previous_secret_expires_at (webhooks.rotationGraceHours, default 24 h).',
        params: IdParams,
        response: { 200: WebhookWithSecret, ...byId, ...problems(...IDEMPOTENT) },
      },
    },
    async (request) => {
      const r = await s.webhooks.rotateSecret(principalOf(request).tenant.id, request.params.id, actorOf(request));
      return { ...webhookJson(r.endpoint), secret: r.secret };
    },
  );

  app.post(
    '/webhooks/:id/test',
    {
      config: { scope: 'admin' },
      schema: {
        tags,
        summary: 'Send a test event now',
        description: 'POSTs a signed webhook.test event to the endpoint and answers with the attempt (also in the attempts list).',
        params: IdParams,
        response: { 200: Attempt, ...byId, ...problems(...IDEMPOTENT) },
      },
    },
    async (request) => attemptJson(await s.webhooks.test(principalOf(request).tenant.id, request.params.id)),
  );

  app.get(
    '/webhooks/:id/attempts',
    {
      config: { scope: 'read' },
      schema: {
        tags,
        summary: "The endpoint's delivery attempts, newest first",
        description: 'Pass next_cursor back as `before` for the next page.',
        params: IdParams,
        querystring: Type.Object({
          before: Type.Optional(Type.String({ description: 'next_cursor of the previous page' })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
        }),
        response: {
          200: Type.Object(
            { data: Type.Array(Attempt), next_cursor: Nullable(Type.String()) },
            { examples: [{ data: [AttemptExample], next_cursor: null }] },
          ),
          ...byId,
        },
      },
    },
    async (request) => {
      const page = await s.webhooks.attempts(principalOf(request).tenant.id, request.params.id, {
        before: request.query.before,
        limit: request.query.limit ?? 50,
      });
      return { data: page.data.map(attemptJson), next_cursor: page.nextCursor };
    },
  );

  app.post(
    '/webhooks/:id/replay',
    {
      config: { scope: 'admin' },
      schema: {
        tags,
        summary: 'Send a window of past events again',
        description:
          "Queues the tenant's events between from and to (times or cursors) that this endpoint's filters and the given types/message_id match, with their original ids; as far back as events.retentionDays.",
        params: IdParams,
        body: ReplayBody,
        response: {
          202: Type.Object(
            { replay_id: Type.String(), queued: Type.Integer({ description: 'Events queued for this endpoint.' }) },
            { examples: [{ replay_id: 'replay_01JD3Q7M5X0000000000000000', queued: 42 }] },
          ),
          ...byId,
          ...problems(...JSON_BODY, ...IDEMPOTENT),
        },
      },
    },
    async (request, reply) => {
      const b = request.body;
      const r = await s.webhooks.replay(principalOf(request).tenant.id, request.params.id, {
        from: b.from,
        to: b.to,
        types: b.types,
        messageId: b.message_id,
      });
      return reply.code(202).send({ replay_id: r.replayId, queued: r.queued });
    },
  );
}
