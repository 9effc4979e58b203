import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { PostwardenError, validationError } from '../../core/index.js';
import { principalOf } from '../plugins/auth.js';
import type { ApiServices } from '../services.js';

const Level = Type.Union([Type.Literal('opportunistic'), Type.Literal('required'), Type.Literal('verified')]);
const PolicyDoc = Type.Object(
  {
    default: Type.Optional(Level),
    streams: Type.Optional(Type.Record(Type.String(), Level)),
  },
  { additionalProperties: false },
);
const DAY_MS = 86_400_000;

/**
 * Transport security for a tenant: its outbound TLS policy (default and per stream) and the TLS
 * statistics of its deliveries for auditors (docs/transport-security.md).
 */
export function transportSecurityRoutes(app: FastifyInstance, s: ApiServices): void {
  app.get(
    '/v1/tenant/tls-policy',
    { config: { scope: 'read' }, schema: { tags: ['tenant'], summary: 'The TLS policy of outbound mail, default and per stream' } },
    async (request) => s.tenants.getTlsPolicy(principalOf(request).tenant.id),
  );

  app.put(
    '/v1/tenant/tls-policy',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['tenant'],
        summary: 'Set the TLS policy: opportunistic, required (TLS 1.2+) or verified (TLS 1.2+ with a valid certificate)',
        body: PolicyDoc,
      },
    },
    async (request) => s.tenants.setTlsPolicy(principalOf(request).tenant.id, request.body),
  );

  app.get(
    '/v1/stats/tls',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['stats'],
        summary: 'Share of deliveries over TLS, verified TLS, MTA-STS enforcement and DANE in a period',
        querystring: Type.Object({
          from: Type.Optional(Type.String({ description: 'ISO 8601 start (inclusive); default 30 days before `to`' })),
          to: Type.Optional(Type.String({ description: 'ISO 8601 end (exclusive); default now' })),
          domain: Type.Optional(Type.String({ description: 'one recipient domain' })),
        }),
      },
    },
    async (request) => {
      const q = request.query as { from?: string; to?: string; domain?: string };
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
