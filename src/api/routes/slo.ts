import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { SloReport } from '../../health/index.js';
import { AUTHED, problems } from '../contract/problem-schema.js';
import { principalOf } from '../plugins/auth.js';
import type { ApiServices } from '../services.js';
import { iso } from './json.js';

/** GET /v1/slo: the SLIs with their objectives and error budget left (docs/dashboard.md#slos). */
export const SliJson = Type.Object({
  name: Type.Union([Type.Literal('queue_drain'), Type.Literal('acceptance'), Type.Literal('retry'), Type.Literal('api_availability')]),
  description: Type.String(),
  value: Type.Union([Type.Number(), Type.Null()], {
    description: 'Seconds (queue_drain) or a 0..1 ratio; null: no data (or, for queue_drain, infinite).',
  }),
  unit: Type.Union([Type.Literal('seconds'), Type.Literal('ratio')]),
  objective: Type.Number({ description: 'At most (seconds) or at least (ratio).' }),
  good: Type.Union([Type.Integer(), Type.Null()]),
  total: Type.Union([Type.Integer(), Type.Null()]),
  error_budget_remaining: Type.Union([Type.Number(), Type.Null()], { description: '1 untouched, 0 spent, negative overspent.' }),
  status: Type.Union([Type.Literal('met'), Type.Literal('breached'), Type.Literal('no_data')]),
});

export const SloJson = Type.Object(
  {
    at: Type.String({ format: 'date-time' }),
    window_hours: Type.Integer(),
    slis: Type.Array(SliJson),
  },
  {
    examples: [
      {
        at: '2026-11-23T09:00:00.000Z',
        window_hours: 24,
        slis: [
          {
            name: 'acceptance',
            description: 'Share of recipients a provider accepted within 300 s of our acceptance.',
            value: 0.5,
            unit: 'ratio',
            objective: 0.99,
            good: 1,
            total: 2,
            error_budget_remaining: -49,
            status: 'breached',
          },
        ],
      },
    ],
  },
);

export function sloJson(r: SloReport) {
  return {
    at: iso(r.at)!,
    window_hours: r.windowHours,
    slis: r.slis.map((s) => ({
      name: s.name,
      description: s.description,
      value: s.value,
      unit: s.unit,
      objective: s.objective,
      good: s.good,
      total: s.total,
      error_budget_remaining: s.errorBudgetRemaining,
      status: s.status,
    })),
  };
}

export function sloRoutes(app: FastifyInstance, s: ApiServices): void {
  app.withTypeProvider<TypeBoxTypeProvider>().get(
    '/slo',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['health'],
        summary: 'Service level indicators, objectives and error budgets',
        description:
          "Queue drain time and API availability are this node's; acceptance and retry SLIs cover the key's tenant over the configured window (slo.* in docs/config.md). /metrics has the same SLIs for the whole platform.",
        response: { 200: SloJson, ...problems(...AUTHED) },
      },
    },
    async (request) => {
      const p = principalOf(request);
      return sloJson(await s.health.slo.report(p.tenant.id));
    },
  );
}
