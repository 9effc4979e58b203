import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { DeliveryHealthJson, deliveryHealthJson } from '../../delivery/index.js';
import { AUTHED, JSON_BODY, problems } from '../contract/problem-schema.js';
import { actorOf } from '../plugins/actor.js';
import { principalOf } from '../plugins/auth.js';
import type { ApiServices } from '../services.js';

/**
 * /v1/delivery/health: what delivery's pacing and breakers are doing per egress pool × destination
 * site, and the operator's levers over it (docs/delivery.md "Pacing"). Pause, resume and reset
 * each need a reason, are one `pacing.changed` event naming the key that made them, and act on
 * this node's delivery (each delivery node paces what it sends).
 */
const SiteParam = Type.Object({
  site: Type.String({
    minLength: 1,
    maxLength: 512,
    description: 'A destination site (its MX host set, as GET /v1/delivery/health lists it) or a provider key (gmail, microsoft, …).',
    examples: ['mx.example.org'],
  }),
});
const OverrideBody = Type.Object(
  {
    reason: Type.String({ minLength: 3, maxLength: 500, description: 'Why: kept on the pacing.changed event and shown by the health.' }),
    pool: Type.Optional(Type.String({ minLength: 1, description: 'Only this egress pool; absent: every pool.' })),
  },
  { additionalProperties: false, examples: [{ reason: 'provider asked us to slow down (ticket 4411)' }] },
);
const PauseBody = Type.Object(
  {
    ...OverrideBody.properties,
    minutes: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 43_200, description: 'Resume by itself after this long; absent: until resumed.' }),
    ),
  },
  { additionalProperties: false, examples: [{ reason: 'blocklisted at this provider, investigating', minutes: 60 }] },
);
const ACTIONS = {
  pause: 'Pause a site',
  resume: 'Resume a paused site',
  reset: "Reset a site's pace and breakers",
} as const;
const DESCRIPTIONS = {
  pause:
    'Holds mail to the site (or every site of a provider) from leaving, from every pool or the one named, until resumed or for `minutes`. Held mail is deferred without spending attempts. One pacing.changed event.',
  resume: 'Lifts the pauses of the site: operator pauses and pauses a pacing rule set. One pacing.changed event.',
  reset:
    'Forgets the pace, the throttling windows, the pauses and the breakers of the site: it starts again at its configured limits. One pacing.changed event.',
} as const;

export function deliveryHealthRoutes(app: FastifyInstance, s: ApiServices): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.get(
    '/delivery/health',
    {
      // Reading it is a statistic (stats:read, in the legacy read scope); changing it is admin.
      config: { scope: 'read' },
      schema: {
        tags: ['delivery'],
        summary: 'Delivery health per pool and site',
        description:
          "Per egress pool × destination site on this node: pacing state (healthy, throttled, paused), the breaker, the caps in force against the configured limits, the last minute's attempts and throttling replies, the rule in charge and why; and the pauses operators set.",
        response: { 200: DeliveryHealthJson, ...problems(...AUTHED) },
      },
    },
    async (request) => {
      const health = await s.delivery.health();
      // Reputation holds name a tenant's domain: each tenant sees its own.
      return deliveryHealthJson({ ...health, holds: health.holds.filter((h) => h.tenantId === principalOf(request).tenant.id) });
    },
  );
  const described = (action: keyof typeof ACTIONS) => ({
    tags: ['delivery'],
    summary: ACTIONS[action],
    description: DESCRIPTIONS[action],
    params: SiteParam,
    response: { 200: DeliveryHealthJson, ...problems(...AUTHED, ...JSON_BODY) },
  });
  // Each lever is recorded before it is pulled (pauses live in this node's memory, not in a
  // transaction an entry could ride with): one that cannot be recorded is not pulled.
  const pausesOf = async (site: string, pool: string | null) =>
    (await s.delivery.health()).overrides
      .filter((o) => o.target === site && (!pool || o.pool === pool))
      .map((o) => ({ pool: o.pool, until: o.until === null ? null : new Date(o.until).toISOString(), reason: o.reason }));
  r.post(
    '/delivery/health/:site/pause',
    { config: { scope: 'admin' }, schema: { ...described('pause'), body: PauseBody } },
    async (request) => {
      const { reason, pool, minutes } = request.body;
      const site = request.params.site;
      await s.audit.record({
        actor: actorOf(request),
        action: 'delivery.paused',
        resource: { type: 'delivery_site', id: site },
        before: { pauses: await pausesOf(site, pool ?? null) },
        after: { pool: pool ?? null, minutes: minutes ?? null },
        reason,
      });
      await s.delivery.pause({
        target: site,
        pool: pool ?? null,
        reason,
        actor: principalOf(request).keyId,
        tenantId: principalOf(request).tenant.id,
        ...(minutes ? { minutes } : {}),
      });
      return deliveryHealthJson(await s.delivery.health());
    },
  );
  const done = { resume: 'delivery.resumed', reset: 'delivery.reset' } as const;
  for (const action of ['resume', 'reset'] as const) {
    r.post(
      `/delivery/health/:site/${action}`,
      { config: { scope: 'admin' }, schema: { ...described(action), body: OverrideBody } },
      async (request) => {
        const { reason, pool } = request.body;
        const site = request.params.site;
        await s.audit.record({
          actor: actorOf(request),
          action: done[action],
          resource: { type: 'delivery_site', id: site },
          before: { pauses: await pausesOf(site, pool ?? null) },
          after: { pool: pool ?? null },
          reason,
        });
        await s.delivery[action]({
          target: site,
          pool: pool ?? null,
          reason,
          actor: principalOf(request).keyId,
          tenantId: principalOf(request).tenant.id,
        });
        return deliveryHealthJson(await s.delivery.health());
      },
    );
  }
}
