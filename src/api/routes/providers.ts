import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Bucket, SiteHealth } from '../../health/index.js';
import { AUTHED, problems } from '../contract/problem-schema.js';
import { principalOf } from '../plugins/auth.js';
import type { ApiServices } from '../services.js';
import { iso } from './json.js';

/** GET /v1/providers: per provider and destination site health, read-only (docs/dashboard.md#providers). */
const BucketJson = Type.Object({
  start: Type.String({ format: 'date-time' }),
  accepted: Type.Integer({ description: 'Recipients the site accepted (2xx).' }),
  deferred: Type.Record(Type.String(), Type.Integer(), { description: 'Deferrals by classifier category.' }),
  deferred_total: Type.Integer(),
  bounced: Type.Integer(),
  blocked: Type.Integer({ description: 'Deferrals and bounces in a *_block category (policy, reputation, content).' }),
  latency_p50_ms: Type.Union([Type.Number(), Type.Null()], { description: "Our acceptance to the provider's, median." }),
  latency_p95_ms: Type.Union([Type.Number(), Type.Null()]),
  tls_share: Type.Union([Type.Number(), Type.Null()], { description: 'Share of accepted recipients sent over TLS.' }),
});
const BreakerJson = Type.Object({
  state: Type.Union([Type.Literal('closed'), Type.Literal('open'), Type.Literal('half-open')]),
  consecutive: Type.Integer({ description: 'Failures and throttles since the last success.' }),
  trips: Type.Integer(),
  opened_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  retry_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  last_failure: Type.Union([Type.Literal('failure'), Type.Literal('throttled'), Type.Null()]),
  reason: Type.String(),
});
const SiteJson = Type.Object({
  site: Type.String({ description: 'The MX host set.' }),
  provider: Type.String(),
  breaker: Type.Union([BreakerJson, Type.Null()], { description: "The site's circuit breaker on this node; null: closed and clean." }),
  last_reply: Type.Union([Type.String(), Type.Null()], { description: 'The last refusal or deferral reply in the hour.' }),
  minute: Type.Array(BucketJson, { description: 'Last 15 minutes.' }),
  five_minute: Type.Array(BucketJson, { description: 'Last hour.' }),
});
const ProvidersJson = Type.Object(
  {
    at: Type.String({ format: 'date-time' }),
    providers: Type.Array(Type.Object({ provider: Type.String(), hour: BucketJson, sites: Type.Array(SiteJson) })),
  },
  {
    examples: [
      {
        at: '2026-11-23T09:00:00.000Z',
        providers: [
          {
            provider: 'microsoft',
            hour: {
              start: '2026-11-23T08:05:00.000Z',
              accepted: 10,
              deferred: { throttling: 3 },
              deferred_total: 3,
              bounced: 0,
              blocked: 0,
              latency_p50_ms: 420,
              latency_p95_ms: 2100,
              tls_share: 1,
            },
            sites: [],
          },
        ],
      },
    ],
  },
);

const bucketJson = (b: Bucket) => ({
  start: iso(b.start)!,
  accepted: b.accepted,
  deferred: b.deferred,
  deferred_total: b.deferredTotal,
  bounced: b.bounced,
  blocked: b.blocked,
  latency_p50_ms: b.latencyP50Ms,
  latency_p95_ms: b.latencyP95Ms,
  tls_share: b.tlsShare,
});
const siteJson = (s: SiteHealth) => ({
  site: s.site,
  provider: s.provider,
  breaker: s.breaker && {
    state: s.breaker.state,
    consecutive: s.breaker.consecutive,
    trips: s.breaker.trips,
    opened_at: iso(s.breaker.openedAt),
    retry_at: iso(s.breaker.retryAt),
    last_failure: s.breaker.lastFailure,
    reason: s.breaker.reason,
  },
  last_reply: s.lastReply,
  minute: s.minute.map(bucketJson),
  five_minute: s.fiveMinute.map(bucketJson),
});

export function providerRoutes(app: FastifyInstance, s: ApiServices): void {
  app.withTypeProvider<TypeBoxTypeProvider>().get(
    '/providers',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['health'],
        summary: 'Per provider and destination site: outcome buckets and circuit breakers',
        description:
          "The key's tenant's outcomes per site (1-minute buckets for 15 minutes, 5-minute buckets for the hour), grouped by provider (rules/providers.yaml), with the breaker state of this node. Read-only.",
        response: { 200: ProvidersJson, ...problems(...AUTHED) },
      },
    },
    async (request) => {
      const p = principalOf(request);
      const r = await s.health.providers(p.tenant.id);
      return {
        at: iso(r.at)!,
        providers: r.providers.map((x) => ({ provider: x.provider, hour: bucketJson(x.hour), sites: x.sites.map(siteJson) })),
      };
    },
  );
}
