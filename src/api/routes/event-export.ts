import { Readable } from 'node:stream';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { type EventType, eventTypes, type FieldError, isEventType, validationError } from '../../core/index.js';
import { exportColumns } from '../../events/index.js';
import { AUTHED, problems } from '../contract/problem-schema.js';
import { principalOf } from '../plugins/auth.js';
import type { ApiServices } from '../services.js';

/**
 * GET /v1/events/export: the tenant's events as NDJSON or CSV for warehouses (docs/exports.md),
 * streamed with backpressure: the spine is read a page at a time as the client takes the bytes.
 * `Postwarden-Event-Count` announces the rows (progress bars; a client that counts fewer knows the
 * export was cut), `Postwarden-Last-Cursor` the end the export fixed when it started.
 */
const Query = Type.Object(
  {
    from: Type.Optional(Type.String({ description: 'Events appended at or after this time (ISO 8601). Default: the first event.' })),
    to: Type.Optional(
      Type.String({ description: 'Events appended before this time (ISO 8601). Default: up to the last event when the export starts.' }),
    ),
    types: Type.Optional(Type.String({ description: `Comma-separated event types (${eventTypes.join(', ')}). Default: all.` })),
    format: Type.Union([Type.Literal('ndjson'), Type.Literal('csv')], {
      default: 'ndjson',
      description: 'ndjson: one JSON object per line (`data` an object); csv: RFC 4180 with a header line (`data` JSON text).',
    }),
  },
  {
    additionalProperties: false,
    examples: [
      { from: '2026-12-01T00:00:00Z', to: '2026-12-02T00:00:00Z', types: 'recipient.bounced,recipient.complained', format: 'ndjson' },
    ],
  },
);

const ndjsonExample =
  '{"event_id":"evt_01JF8Z3Q4N","cursor":42,"type":"recipient.delivered","schema_version":1,"occurred_at":"2026-12-01T10:00:00.000Z","tenant_id":"ten_01JF8Z","message_id":"msg_01JF8Z","recipient_id":"rcp_01JF8Z","seq":3,"data":{"email":"ada@example.org","attempt":1}}\n';
const csvExample = `${exportColumns.join(',')}\r\nevt_01JF8Z3Q4N,42,recipient.delivered,1,2026-12-01T10:00:00.000Z,ten_01JF8Z,msg_01JF8Z,rcp_01JF8Z,3,"{""email"":""ada@example.org"",""attempt"":1}"\r\n`;

function parseTime(value: string | undefined, path: string, errors: FieldError[]): number | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(ms))
    errors.push({ path, message: 'must be an ISO 8601 time (2026-12-01T00:00:00Z)' });
  return ms;
}

export function eventExportRoutes(app: FastifyInstance, s: ApiServices): void {
  app.withTypeProvider<TypeBoxTypeProvider>().get(
    '/events/export',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['events'],
        summary: 'Export events as NDJSON or CSV (streamed)',
        description: `One row per event in commit order, columns ${exportColumns.join(', ')} (docs/exports.md). Headers: Postwarden-Event-Count (rows in the export), Postwarden-Last-Cursor.`,
        querystring: Query,
        response: {
          200: {
            description: 'The export, streamed.',
            headers: {
              'postwarden-event-count': Type.Integer({ description: 'Rows the export holds.' }),
              'postwarden-last-cursor': Type.String({ description: 'The last spine cursor the export covers.' }),
            },
            content: {
              'application/x-ndjson': { schema: Type.String({ description: 'One JSON object per line.', examples: [ndjsonExample] }) },
              'text/csv': { schema: Type.String({ description: 'RFC 4180, header line first, CRLF line ends.', examples: [csvExample] }) },
            },
          },
          ...problems(...AUTHED, 422),
        },
      },
    },
    async (request, reply) => {
      const p = principalOf(request);
      const q = request.query;
      const errors: FieldError[] = [];
      const from = parseTime(q.from, '/query/from', errors);
      const to = parseTime(q.to, '/query/to', errors);
      let types: EventType[] | undefined;
      if (q.types) {
        const list = q.types
          .split(',')
          .map((t) => t.trim())
          .filter(Boolean);
        const bad = list.filter((t) => !isEventType(t));
        if (bad.length) errors.push({ path: '/query/types', message: `unknown event type(s) ${bad.join(', ')}` });
        types = list.filter(isEventType);
      }
      if (from !== undefined && to !== undefined && !errors.length && to <= from)
        errors.push({ path: '/query/to', message: 'must be after from' });
      if (errors.length) throw validationError(errors);

      const opened = await s.spine.export({ tenantId: p.tenant.id, from, to, types }, q.format);
      const name = `events-${new Date(s.clock.now()).toISOString().slice(0, 10)}.${q.format}`;
      reply
        .header('content-type', q.format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8')
        .header('content-disposition', `attachment; filename="${name}"`)
        .header('postwarden-event-count', String(opened.count))
        .header('postwarden-last-cursor', String(opened.upTo))
        .header('cache-control', 'no-store');
      // Byte mode with a small high-water mark: the generator is asked for the next page only when
      // the socket has taken the previous one, so memory holds about one page whatever the size.
      const body = Readable.from(opened.chunks, { objectMode: false, highWaterMark: 64 * 1024 });
      // The schema describes the body as text (what the client receives); Fastify streams it.
      return reply.send(body as unknown as string);
    },
  );
}
