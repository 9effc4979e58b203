import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { ReputationJson, reputationJson } from '../../reputation/index.js';
import { AUTHED, problems } from '../contract/problem-schema.js';
import { principalOf } from '../plugins/auth.js';
import type { ApiServices } from '../services.js';
import { List } from './json.js';

/** GET /v1/reputation: the reputation ledger of the caller's tenant (docs/reputation.md). */
export function reputationRoutes(app: FastifyInstance, s: ApiServices): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.get(
    '/reputation',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['reputation'],
        summary: 'The reputation ledger per identity and provider',
        description:
          'One entry per stream, identity (sending domain, DKIM selector, egress pool, return-path domain) and mailbox provider: counts and rates over 1 h, 24 h and 7 d, the 7-day baseline before the last 24 h, and the state (healthy, watch, throttled, paused, warming) with the rule and numbers behind it. Filters: provider, domain, stream.',
        querystring: Type.Object({
          provider: Type.Optional(Type.String({ description: 'A provider key (rules/providers.yaml), e.g. gmail.' })),
          domain: Type.Optional(Type.String({ description: 'A sending domain.' })),
          stream: Type.Optional(Type.String({ description: 'transactional, marketing or cold.' })),
        }),
        response: { 200: List(ReputationJson), ...problems(...AUTHED) },
      },
    },
    async (request) => {
      const { provider, domain, stream } = request.query;
      const entries = await s.reputation.list({
        tenantId: principalOf(request).tenant.id,
        ...(provider ? { provider: provider.toLowerCase() } : {}),
        ...(domain ? { domain: domain.toLowerCase() } : {}),
        ...(stream ? { stream } : {}),
      });
      return { data: entries.map(reputationJson) };
    },
  );
}
