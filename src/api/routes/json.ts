import { type Static, type TSchema, Type } from 'typebox';
import type { AcceptedMessage } from '../../accept/index.js';
import { eventTypes, recipientStates, type SpineEvent, streams, suppressionScopes } from '../../core/index.js';
import type { CapturedRow, MessageRow, RecipientRow } from '../../store/index.js';

/**
 * The wire shapes of the API's own resources (messages, recipients, events, captures): snake_case,
 * ISO times, nothing internal (leases stay private). One TypeBox schema and one builder each; the
 * route files declare them as responses, so OpenAPI documents exactly what is sent. Fields and enum
 * values are only ever added (docs/api.md, "Compatibility policy").
 */
export const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
export const Time = (description: string) => Type.String({ format: 'date-time', description });
export const MaybeTime = (description: string) => Type.Union([Time(description), Type.Null()]);
export const literals = <const T extends readonly string[]>(values: T, description?: string) =>
  Type.Enum(values, { type: 'string', ...(description ? { description } : {}) });
const Json = Type.Record(Type.String(), Type.Unknown());

const exampleOf = (schema: TSchema): unknown[] => {
  const e = (schema as { examples?: unknown[] }).examples;
  return e?.length ? [e[0]] : [];
};

/** Every item of a kind, at once. */
export const List = <T extends TSchema>(item: T) =>
  Type.Object({ data: Type.Array(item) }, { additionalProperties: false, examples: [{ data: exampleOf(item) }] });

/** A page of `item`, with the cursor to pass back for the next one (null: the last page). */
export const Page = <T extends TSchema>(item: T, description: string) =>
  Type.Object(
    { data: Type.Array(item), next_cursor: Type.Union([Type.String(), Type.Null()], { description }) },
    { additionalProperties: false, examples: [{ data: exampleOf(item), next_cursor: null }] },
  );
export const PageBefore = <T extends TSchema>(item: T, description: string) =>
  Type.Object(
    { data: Type.Array(item), next_before: Type.Union([Type.String(), Type.Null()], { description }) },
    { additionalProperties: false, examples: [{ data: exampleOf(item), next_before: null }] },
  );

/** No body: the 204 of a delete. */
export const NoContent = (description: string) => Type.Null({ description });

export const MessageJson = Type.Object(
  {
    id: Type.String({ description: 'Message id (msg_…).' }),
    from: Type.String(),
    subject: Type.String(),
    stream: literals(streams),
    size: Type.Integer({ description: 'Bytes of the message as composed.' }),
    message_id_header: Type.String({ description: 'The Message-ID header it was sent with.' }),
    tags: Type.Array(Type.String()),
    metadata: Type.Record(Type.String(), Type.String()),
    source: literals(['api', 'smtp'] as const, 'Which door it came in by.'),
    sandbox: Type.Boolean(),
    created_at: Time('When it was accepted.'),
    identity: Type.Union([Json, Type.Null()], { description: 'Return path and expected DMARC alignment fixed at accept time.' }),
    template: Type.Union([Json, Type.Null()], {
      description: 'The template it was rendered from ({id, name, version, locale}); null for literal content.',
    }),
    classification: Type.Optional(
      Type.Union([Json, Type.Null()], {
        description:
          'The classification decision at accept time: classifications, the rule ids that raised them (never the matched data), the policy rules applied, the TLS level required and the retention class its body is kept by, each with the rule that set it (docs/classification.md).',
      }),
    ),
  },
  { additionalProperties: false },
);
export type MessageJson = Static<typeof MessageJson>;
export const messageJson = (m: MessageRow): MessageJson => ({
  id: m.id,
  from: m.from,
  subject: m.subject,
  stream: m.stream as MessageJson['stream'],
  size: m.size,
  message_id_header: m.messageIdHeader,
  tags: m.tags,
  metadata: m.metadata,
  source: m.source as MessageJson['source'],
  sandbox: m.sandbox,
  created_at: new Date(m.createdAt).toISOString(),
  identity: m.identity ?? null,
  template: m.template ? { ...m.template } : null,
  classification: m.classification ?? null,
});

export const RecipientJson = Type.Object(
  {
    id: Type.String({ description: 'Recipient id (rcp_…).' }),
    email: Type.String(),
    kind: literals(['to', 'cc', 'bcc', 'rcpt'] as const, 'rcpt: given only as RCPT TO (SMTP submission).'),
    state: literals(recipientStates),
    attempts: Type.Integer(),
    next_attempt_at: MaybeTime('When the next attempt is due (queued or deferred only).'),
    last_reply: Type.Union([Json, Type.Null()], { description: 'The last remote reply, with its MX, TLS details and classification.' }),
    updated_at: Time('When its state last changed.'),
    held_reason: Type.Optional(
      Type.String({
        description: "Present while it waits for a node of its tenant's data region (docs/residency.md): why this node left it queued.",
      }),
    ),
  },
  { additionalProperties: false },
);
export type RecipientJson = Static<typeof RecipientJson>;
export const recipientJson = (r: RecipientRow): RecipientJson => ({
  id: r.id,
  email: r.address,
  kind: r.kind as RecipientJson['kind'],
  state: r.state,
  attempts: r.attempts,
  next_attempt_at: r.state === 'deferred' || r.state === 'queued' ? iso(r.nextAttemptAt) : null,
  last_reply: r.lastReply,
  updated_at: new Date(r.updatedAt).toISOString(),
  ...(r.heldReason ? { held_reason: r.heldReason } : {}),
});

export const EventJson = Type.Object(
  {
    id: Type.String({ description: 'Event id (evt_…); receivers deduplicate by it.' }),
    cursor: Type.String({ description: 'Position in the spine, in commit order.' }),
    type: literals(eventTypes, 'New types may be added (docs/api-changelog.md); a type never changes meaning.'),
    message_id: Type.Union([Type.String(), Type.Null()]),
    recipient_id: Type.Union([Type.String(), Type.Null()]),
    seq: Type.Integer({ description: '1, 2, 3… per message, in the order things happened.' }),
    schema_version: Type.Integer({ description: "The version of the type's payload (docs/events.md, GET /v1/events/schema)." }),
    at: Time('When it happened.'),
    data: Type.Record(Type.String(), Type.Unknown(), { description: 'The payload of the type (docs/events.md).' }),
  },
  {
    additionalProperties: false,
    examples: [
      {
        id: 'evt_01JD7Y3K5V0A',
        cursor: '42',
        type: 'recipient.delivered',
        message_id: 'msg_01JD7Y3H2C9M',
        recipient_id: 'rcp_01JD7Y3H2D1P',
        seq: 3,
        at: '2026-01-05T11:02:03.000Z',
        data: { mx: 'mx1.example.org', reply: '250 2.0.0 OK' },
      },
    ],
  },
);
export type EventJson = Static<typeof EventJson>;
export const eventJson = (e: SpineEvent): EventJson => ({
  id: e.id,
  cursor: e.cursor,
  type: e.type,
  message_id: e.messageId,
  recipient_id: e.recipientId,
  seq: e.seq,
  schema_version: e.schemaVersion,
  at: e.at,
  data: e.data,
});

export const SuppressionWhyJson = Type.Object(
  {
    reason: Type.String(),
    scope: literals(suppressionScopes),
    domain: Type.Union([Type.String(), Type.Null()]),
    stream: Type.Union([literals(streams), Type.Null()]),
    since: MaybeTime('When the address was suppressed.'),
    source: Type.String(),
  },
  { additionalProperties: false, description: 'Why a suppressed recipient is not sent to.' },
);
export const suppressionWhy = (
  x: NonNullable<AcceptedMessage['recipients'][number]['suppression']>,
): Static<typeof SuppressionWhyJson> => ({
  reason: x.reason,
  scope: x.scope,
  domain: x.domain,
  stream: x.stream,
  since: iso(x.since),
  source: x.source,
});

/** Each other provider's field spelling that was read as ours (docs/sending.md), with its path; always sent. */
export const SendWarnings = Type.Array(Type.Object({ path: Type.String(), message: Type.String() }, { additionalProperties: false }), {
  description: "Each other provider's field spelling that was read as ours (docs/sending.md), with its path in the request.",
});

/** The answer to a send: the message id and, per recipient, its state (suppressed ones say why). */
export const AcceptedJson = Type.Object(
  {
    id: Type.String({ description: 'Message id (msg_…).' }),
    status: literals(['queued'] as const),
    stream: literals(streams),
    sandbox: Type.Boolean({ description: 'True when the mail is captured, not sent.' }),
    recipients: Type.Array(
      Type.Object(
        {
          id: Type.String(),
          email: Type.String(),
          state: literals(recipientStates),
          reason: Type.Optional(Type.String()),
          suppression: Type.Optional(SuppressionWhyJson),
        },
        { additionalProperties: false },
      ),
    ),
    warnings: Type.Optional(SendWarnings),
  },
  {
    additionalProperties: false,
    examples: [
      {
        warnings: [{ path: '/replyTo', message: 'read as reply_to' }],
        id: 'msg_01JD7Y3H2C9M',
        status: 'queued',
        stream: 'transactional',
        sandbox: false,
        recipients: [{ id: 'rcp_01JD7Y3H2D1P', email: 'ada@example.org', state: 'queued' }],
      },
    ],
  },
);
export type AcceptedJson = Static<typeof AcceptedJson>;
export function acceptedJson(a: AcceptedMessage, warnings: { path: string; message: string }[] = []): AcceptedJson {
  return {
    id: a.id,
    status: 'queued',
    stream: a.stream,
    sandbox: a.sandbox,
    recipients: a.recipients.map((r) => ({
      id: r.id,
      email: r.email,
      state: r.state,
      ...(r.reason ? { reason: r.reason } : {}),
      ...(r.suppression ? { suppression: suppressionWhy(r.suppression) } : {}),
    })),
    warnings: [...warnings, ...(a.warnings ?? [])],
  };
}

export const CapturedJson = Type.Object(
  {
    id: Type.String({ description: 'Capture id (cap_…).' }),
    message_id: Type.String(),
    recipient_id: Type.String(),
    envelope_from: Type.String(),
    envelope_to: Type.String(),
    captured_at: Time('When sandbox delivery captured it.'),
  },
  { additionalProperties: false },
);
export const capturedJson = (c: CapturedRow): Static<typeof CapturedJson> => ({
  id: c.id,
  message_id: c.messageId,
  recipient_id: c.recipientId,
  envelope_from: c.envelopeFrom,
  envelope_to: c.envelopeTo,
  captured_at: new Date(c.capturedAt).toISOString(),
});
