import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { PostwardenError, validationError } from '../../core/index.js';
import { TlsPolicyJson, tlsPolicyJson, tlsPolicyLevels } from '../../tenants/index.js';
import { AUTHED, JSON_BODY, problems } from '../contract/problem-schema.js';
import { actorOf } from '../plugins/actor.js';
import { principalOf } from '../plugins/auth.js';
import type { ApiServices } from '../services.js';

const Level = Type.Enum(tlsPolicyLevels, { type: 'string' });
const PolicyDoc = Type.Object(
  {
    default: Type.Optional(Level),
    streams: Type.Optional(Type.Record(Type.String(), Level, { description: 'Per stream (transactional, marketing, cold).' })),
  },
  { additionalProperties: false, examples: [{ default: 'required', streams: { transactional: 'verified' } }] },
);
const Counts = {
  deliveries: Type.Integer(),
  over_tls: Type.Integer(),
  verified_tls: Type.Integer(),
  mta_sts_enforced: Type.Integer(),
  dane: Type.Integer(),
  share: Type.Object(
    { over_tls: Type.Number(), verified_tls: Type.Number(), mta_sts_enforced: Type.Number(), dane: Type.Number() },
    { additionalProperties: false, description: 'Shares of deliveries, 0…1, rounded to 4 places.' },
  ),
  policy_failures: Type.Integer({ description: 'Attempts refused or deferred because the TLS policy could not be met.' }),
};
const TlsStatsJson = Type.Object(
  {
    from: Type.String({ format: 'date-time' }),
    to: Type.String({ format: 'date-time' }),
    total: Type.Object(Counts, { additionalProperties: false }),
    domains: Type.Array(Type.Object({ domain: Type.String(), ...Counts }, { additionalProperties: false })),
  },
  {
    additionalProperties: false,
    examples: [
      {
        from: '2025-12-06T12:00:00.000Z',
        to: '2026-01-05T12:00:00.000Z',
        total: {
          deliveries: 100,
          over_tls: 98,
          verified_tls: 90,
          mta_sts_enforced: 40,
          dane: 5,
          share: { over_tls: 0.98, verified_tls: 0.9, mta_sts_enforced: 0.4, dane: 0.05 },
          policy_failures: 0,
        },
        domains: [],
      },
    ],
  },
);
const DAY_MS = 86_400_000;

/**
 * Transport security for a tenant: its outbound TLS policy (default and per stream) and the TLS
 * statistics of its deliveries for auditors (docs/transport-security.md).
 */
export function transportSecurityRoutes(app: FastifyInstance, s: ApiServices): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.get(
    '/tenant/tls-policy',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['tenant'],
        summary: 'The outbound TLS policy',
        description: 'The TLS level outbound mail requires, by default and per stream.',
        response: { 200: TlsPolicyJson, ...problems(...AUTHED) },
      },
    },
    async (request) => tlsPolicyJson(await s.tenants.getTlsPolicy(principalOf(request).tenant.id)),
  );

  r.put(
    '/tenant/tls-policy',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['tenant'],
        summary: 'Set the outbound TLS policy',
        description:
          'opportunistic (TLS when offered), required (TLS 1.2+) or verified (TLS 1.2+ with a valid certificate), by default and per stream. Mail that cannot meet it is deferred, then bounced.',
        body: PolicyDoc,
        response: { 200: TlsPolicyJson, ...problems(...AUTHED, ...JSON_BODY) },
      },
    },
    async (request) => tlsPolicyJson(await s.tenants.setTlsPolicy(principalOf(request).tenant.id, request.body, actorOf(request))),
  );

  r.get(
    '/stats/tls',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['stats'],
        summary: 'TLS statistics of deliveries',
        description:
          'Share of deliveries over TLS, verified TLS, MTA-STS enforcement and DANE in a period, in total and per recipient domain.',
        querystring: Type.Object({
          from: Type.Optional(
            Type.String({ description: 'ISO 8601 start (inclusive); default 30 days before `to`', examples: ['2025-12-01'] }),
          ),
          to: Type.Optional(Type.String({ description: 'ISO 8601 end (exclusive); default now' })),
          domain: Type.Optional(Type.String({ description: 'one recipient domain' })),
        }),
        response: { 200: TlsStatsJson, ...problems(...AUTHED, 404, 422) },
      },
    },
    async (request) => {
      const q = request.query;
      const errors: { path: string; message: string }[] = [];
      const time = (v: string | undefined, path: string, dflt: number): number => {
        if (v === undefined) return dflt;
        const t = Date.parse(v);
        if (Number.isNaN(t)) errors.push({ path, message: 'must be an ISO 8601 date or date-time' });
        return t;
      };
      const to = time(q.to, '/query/to', s.clock.now());
      const from = time(q.from, '/query/from', to - 30 * DAY_MS);
      if (!errors.length && from >= to) errors.push({ path: '/query/from', message: 'must be before to' });
      if (errors.length) throw validationError(errors);
      if (!s.tlsStats) throw new PostwardenError('NOT_FOUND', 'TLS statistics are not available on this node');
      const domain = q.domain?.trim().toLowerCase().replace(/\.$/, '');
      return s.tlsStats({ tenantId: principalOf(request).tenant.id, from, to, ...(domain ? { domain } : {}) });
    },
  );
}
