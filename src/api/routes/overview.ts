import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { AUTHED, problems } from '../contract/problem-schema.js';
import { principalOf } from '../plugins/auth.js';
import type { ApiServices } from '../services.js';
import { iso } from './json.js';
import { SloJson, sloJson } from './slo.js';

/** GET /v1/overview: the dashboard's first page in one read. */
const Counts = Type.Object({
  accepted: Type.Integer({ description: 'Messages accepted.' }),
  delivered: Type.Integer(),
  deferred: Type.Integer({ description: 'Deferrals (a recipient may be deferred several times).' }),
  bounced: Type.Integer(),
  complained: Type.Integer(),
  suppressed: Type.Integer(),
  expired: Type.Integer(),
});
const OverviewJson = Type.Object(
  {
    at: Type.String({ format: 'date-time' }),
    last_hour: Counts,
    last_day: Counts,
    queue: Type.Object({
      depth: Type.Integer({ description: 'Undelivered recipients (queued, in flight, deferred), platform-wide.' }),
      time_to_drain_seconds: Type.Union([Type.Number(), Type.Null()], { description: 'null: nothing delivered in the last minute.' }),
    }),
    slo: SloJson,
    alerts: Type.Array(
      Type.Object({
        kind: Type.Union([Type.Literal('dns'), Type.Literal('breaker')]),
        severity: Type.String(),
        subject: Type.String({ description: 'The domain (dns) or destination site (breaker).' }),
        message: Type.String(),
        at: Type.String({ format: 'date-time' }),
      }),
    ),
  },
  {
    examples: [
      {
        at: '2026-11-23T09:00:00.000Z',
        last_hour: { accepted: 3, delivered: 2, deferred: 1, bounced: 0, complained: 0, suppressed: 1, expired: 0 },
        last_day: { accepted: 3, delivered: 2, deferred: 1, bounced: 0, complained: 0, suppressed: 1, expired: 0 },
        queue: { depth: 1, time_to_drain_seconds: 30 },
        slo: { at: '2026-11-23T09:00:00.000Z', window_hours: 24, slis: [] },
        alerts: [
          {
            kind: 'breaker',
            severity: 'critical',
            subject: 'mx.example.net',
            message: 'open after 3 consecutive throttling replies',
            at: '2026-11-23T08:59:00.000Z',
          },
        ],
      },
    ],
  },
);

export function overviewRoutes(app: FastifyInstance, s: ApiServices): void {
  app.withTypeProvider<TypeBoxTypeProvider>().get(
    '/overview',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['health'],
        summary: 'Counters of the last hour and day, the queue, SLOs and open alerts',
        description:
          "The key's tenant's outcomes, the platform's queue, SLOs (as GET /v1/slo), DNS posture alerts of the last day and open circuit breakers.",
        response: { 200: OverviewJson, ...problems(...AUTHED) },
      },
    },
    async (request) => {
      const p = principalOf(request);
      const o = await s.health.overview(p.tenant.id);
      return {
        at: iso(o.at)!,
        last_hour: o.lastHour,
        last_day: o.lastDay,
        queue: { depth: o.queue.depth, time_to_drain_seconds: o.queue.timeToDrainSeconds },
        slo: sloJson(o.slo),
        alerts: o.alerts.map((a) => ({ ...a, at: iso(a.at)! })),
      };
    },
  );
}
