import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { type EventType, eventTypes, isEventType, validationError } from '../../core/index.js';
import { principalOf } from '../plugins/auth.js';
import type { ApiServices } from '../services.js';
import { eventJson } from './json.js';

/** GET /v1/events: the spine in commit order. Hold on to next_cursor and pass it back as `after`. */
export function eventRoutes(app: FastifyInstance, s: ApiServices): void {
  app.get(
    '/v1/stats/delivery',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['events'],
        summary: 'Accepted messages and recipient outcomes per minute, oldest first (every minute present)',
        querystring: Type.Object({ minutes: Type.Optional(Type.Integer({ minimum: 1, maximum: 1440, default: 60 })) }),
      },
    },
    async (request) => {
      const p = principalOf(request);
      const { minutes } = request.query as { minutes: number };
      return { data: await s.spine.deliveryMinutes(p.tenant.id, minutes, s.clock.now()) };
    },
  );

  app.get(
    '/v1/events',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['events'],
        summary: 'Page the events spine by cursor',
        querystring: Type.Object({
          after: Type.Optional(Type.String({ description: 'A next_cursor from a previous page; omit to start at the beginning.' })),
          type: Type.Optional(Type.String({ description: `Comma-separated event types: ${eventTypes.join(', ')}` })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
        }),
      },
    },
    async (request) => {
      const p = principalOf(request);
      const q = request.query as { after?: string; type?: string; limit: number };
      let types: EventType[] | undefined;
      if (q.type) {
        const list = q.type
          .split(',')
          .map((t) => t.trim())
          .filter(Boolean);
        const bad = list.filter((t) => !isEventType(t));
        if (bad.length) throw validationError([{ path: '/query/type', message: `unknown event type(s) ${bad.join(', ')}` }]);
        types = list as EventType[];
      }
      if (q.after !== undefined && !/^\d+$/.test(q.after))
        throw validationError([{ path: '/query/after', message: 'must be a cursor returned by this API' }]);
      const page = await s.spine.page({ tenantId: p.tenant.id, after: q.after, types, limit: q.limit });
      return { data: page.data.map(eventJson), next_cursor: page.nextCursor };
    },
  );
}
