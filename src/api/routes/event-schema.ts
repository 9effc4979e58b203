import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { eventJsonSchema, eventTypes } from '../../core/index.js';

/**
 * GET /v1/events/schema: the event contract as JSON Schema (2020-12), built from the one table in
 * core/event-payloads.ts. Public, like /openapi.json: it describes the product, not a tenant's data.
 */

const schemaDocument = eventJsonSchema();

// Its `$schema`, `$id`, `$defs` and `oneOf` members are not declared as properties: @fastify/swagger's
// resolver would read a property named `$id` as a schema id. additionalProperties lets them through.
const EventSchemaDocument = Type.Object(
  {
    title: Type.String(),
    description: Type.String(),
  },
  {
    additionalProperties: true,
    description: `JSON Schema (2020-12) of every event: \`$defs\` holds one schema per type (${eventTypes.join(', ')}), each the envelope with its \`data\` payload, \`x-schema-version\` and an example; \`oneOf\` refers to them all.`,
    examples: [{ title: schemaDocument.title, description: schemaDocument.description }],
  },
);

export function eventSchemaRoutes(app: FastifyInstance): void {
  app.withTypeProvider<TypeBoxTypeProvider>().get(
    '/events/schema',
    {
      schema: {
        tags: ['events'],
        summary: 'The event contract as JSON Schema',
        description:
          'One definition per event type: the envelope (id, cursor, type, schema_version, message_id, recipient_id, seq, at) and its `data` payload. Fields are added, never renamed; enum meanings never change; a breaking change is a new type. No key needed.',
        security: [],
        response: { 200: EventSchemaDocument },
      },
    },
    async () => schemaDocument,
  );
}
