import { type TSchema, Type } from 'typebox';
import { type EventDefinition, type EventType, eventDefinitions } from './event-payloads.js';
import type { SpineEvent } from './events.js';

/**
 * The event as it leaves Postwarden (GET /v1/events, the JetStream sink, NDJSON exports): one wire
 * form, snake_case, with the payload under `data`. The JSON Schema served at GET /v1/events/schema is
 * built here from the contract table, one definition per type.
 */
export interface EventWire {
  id: string;
  cursor: string;
  type: EventType;
  schema_version: number;
  message_id: string | null;
  recipient_id: string | null;
  seq: number;
  at: string;
  data: Record<string, unknown>;
}

export function eventWire(e: SpineEvent): EventWire {
  return {
    id: e.id,
    cursor: e.cursor,
    type: e.type,
    schema_version: e.schemaVersion,
    message_id: e.messageId,
    recipient_id: e.recipientId,
    seq: e.seq,
    at: e.at,
    data: e.data,
  };
}

const nullableId = (prefix: string, description: string) =>
  Type.Union([Type.String({ pattern: `^${prefix}_` }), Type.Null()], { description });

/** The envelope every event shares, with `type` fixed and `data` the given payload schema. */
export function eventEnvelope(type: string, data: TSchema, description?: string) {
  return Type.Object(
    {
      id: Type.String({ pattern: '^evt_', description: 'Unique event id; consumers de-duplicate by it (also the JetStream Nats-Msg-Id).' }),
      cursor: Type.String({ pattern: '^[0-9]+$', description: 'Global position on the spine, in commit order.' }),
      type: Type.Literal(type, { description: 'The event type.' }),
      schema_version: Type.Integer({ minimum: 1, description: "Version of the type's payload this event was written with." }),
      message_id: nullableId('msg', 'The message the event is about; null for tenant events (dns.*, report.received).'),
      recipient_id: nullableId('rcp', 'The recipient the event is about, if any.'),
      seq: Type.Integer({ minimum: 0, description: '1, 2, 3… per message in the order things happened; 0 without a message.' }),
      at: Type.String({ format: 'date-time', description: 'When the event was appended (ISO 8601, UTC).' }),
      data: data,
    },
    { additionalProperties: false, ...(description ? { description } : {}) },
  );
}

/** An example event of a type: its contract's example payload in the envelope. */
export function exampleEventWire(type: EventType): EventWire {
  const def: EventDefinition = eventDefinitions[type];
  return {
    id: 'evt_01JF8Z3Q4NEXAMPLE',
    cursor: '42',
    type,
    schema_version: def.version,
    message_id: type.startsWith('dns.') || type === 'report.received' ? null : 'msg_01JF8Z3Q4N',
    recipient_id: type.startsWith('recipient.') ? 'rcp_01JF8Z3Q4N' : null,
    seq: type.startsWith('dns.') || type === 'report.received' ? 0 : 2,
    at: '2026-12-06T10:00:00.000Z',
    data: def.example,
  };
}

/** The JSON Schema (2020-12) of every event: one `$defs` entry per type, `oneOf` over them. */
export function eventJsonSchema() {
  const types = Object.keys(eventDefinitions) as EventType[];
  const defs: Record<string, unknown> = {};
  for (const t of types) {
    const def: EventDefinition = eventDefinitions[t];
    defs[t] = {
      ...eventEnvelope(t, def.payload, def.when),
      'x-schema-version': def.version,
      examples: [exampleEventWire(t)],
    };
  }
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: 'urn:postwarden:events',
    title: 'Postwarden events',
    description:
      'Every event on the spine, as GET /v1/events, webhooks, the JetStream sink and exports carry it. Fields are added, never renamed; enum meanings never change; a breaking change is a new type. Ignore fields you do not know.',
    oneOf: types.map((t) => ({ $ref: `#/$defs/${t}` })),
    $defs: defs,
  };
}
