import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { type EventType, eventTypes, isEventType, validationError } from '../../core/index.js';
import { AUTHED, problems } from '../contract/problem-schema.js';
import { principalOf } from '../plugins/auth.js';
import type { ApiServices } from '../services.js';
import { EventJson, eventJson, Page } from './json.js';

/** GET /v1/events: the spine in commit order. Hold on to next_cursor and pass it back as `after`. */
const Minute = Type.Object(
  {
    minute: Type.String({ format: 'date-time', description: 'The start of the minute.' }),
    accepted: Type.Integer(),
    delivered: Type.Integer(),
    deferred: Type.Integer(),
    bounced: Type.Integer(),
    expired: Type.Integer(),
    failed: Type.Integer(),
    suppressed: Type.Integer(),
  },
  { additionalProperties: false },
);

export function eventRoutes(app: FastifyInstance, s: ApiServices): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.get(
    '/stats/delivery',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['events'],
        summary: 'Delivery counts per minute',
        description: 'Accepted messages and recipient outcomes per minute, oldest first; every minute of the window is present.',
        querystring: Type.Object({ minutes: Type.Optional(Type.Integer({ minimum: 1, maximum: 1440, default: 60, examples: [60] })) }),
        response: {
          200: Type.Object(
            { data: Type.Array(Minute) },
            {
              additionalProperties: false,
              examples: [
                {
                  data: [
                    {
                      minute: '2026-01-05T11:02:00.000Z',
                      accepted: 12,
                      delivered: 11,
                      deferred: 1,
                      bounced: 0,
                      expired: 0,
                      failed: 0,
                      suppressed: 0,
                    },
                  ],
                },
              ],
            },
          ),
          ...problems(...AUTHED, 422),
        },
      },
    },
    async (request) => {
      const p = principalOf(request);
      // The schema's default fills `minutes`; its type stays optional.
      return { data: await s.spine.deliveryMinutes(p.tenant.id, request.query.minutes ?? 60, s.clock.now()) };
    },
  );

  r.get(
    '/events',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['events'],
        summary: 'Page the events spine',
        description:
          'Events in commit order: a reader that keeps next_cursor and passes it back as `after` sees every event once, even with many writers. New event types may appear (docs/api-changelog.md).',
        querystring: Type.Object({
          after: Type.Optional(
            Type.String({ description: 'A next_cursor from a previous page; omit to start at the beginning.', examples: ['42'] }),
          ),
          type: Type.Optional(
            Type.String({
              description: `Comma-separated event types: ${eventTypes.join(', ')}`,
              examples: ['recipient.delivered,recipient.bounced'],
            }),
          ),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
        }),
        response: { 200: Page(EventJson, 'Pass back as `after`; null when there is nothing newer yet.'), ...problems(...AUTHED, 422) },
      },
    },
    async (request) => {
      const p = principalOf(request);
      const q = request.query;
      let types: EventType[] | undefined;
      if (q.type) {
        const list = q.type
          .split(',')
          .map((t) => t.trim())
          .filter(Boolean);
        const bad = list.filter((t) => !isEventType(t));
        if (bad.length) throw validationError([{ path: '/query/type', message: `unknown event type(s) ${bad.join(', ')}` }]);
        types = list.filter(isEventType);
      }
      if (q.after !== undefined && !/^\d+$/.test(q.after))
        throw validationError([{ path: '/query/after', message: 'must be a cursor returned by this API' }]);
      const page = await s.spine.page({ tenantId: p.tenant.id, after: q.after, types, limit: q.limit ?? 100 });
      return { data: page.data.map(eventJson), next_cursor: page.nextCursor };
    },
  );
}
