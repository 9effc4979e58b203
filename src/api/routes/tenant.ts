import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { REGION_PATTERN, regionProblem, validationError } from '../../core/index.js';
import {
  KeyJson,
  SendingLimitsJson,
  SendingWindowJson,
  sendingLimitsExample,
  sendingLimitsJson,
  TenantJson,
  tenantExample,
  tenantJson,
} from '../../tenants/index.js';
import { AUTHED, JSON_BODY, problems } from '../contract/problem-schema.js';
import { actorOf } from '../plugins/actor.js';
import { principalOf } from '../plugins/auth.js';
import type { ApiServices } from '../services.js';

/** /v1/tenant: the presented key's tenant, and its settings (alignment policy: warn | reject). */
const TenantWithScopes = Type.Object(
  {
    ...TenantJson.properties,
    sending_limits: SendingLimitsJson,
    scopes: KeyJson.properties.scopes,
  },
  {
    additionalProperties: false,
    examples: [
      {
        id: 'ten_01JD7XW0P4Z9',
        name: 'Acme',
        sandbox: false,
        alignment: 'warn',
        created_at: '2026-01-05T09:30:00.000Z',
        data_region: 'eu',
        sending_limits: sendingLimitsExample,
        scopes: ['send', 'read'],
      },
    ],
  },
);

const TenantSettings = Type.Object(
  { ...TenantJson.properties, sending_limits: SendingLimitsJson },
  { additionalProperties: false, examples: [{ ...tenantExample, sending_limits: sendingLimitsExample }] },
);
const PatchBody = Type.Object(
  {
    alignment: Type.Optional(Type.Union([Type.Literal('warn'), Type.Literal('reject')])),
    quotas: Type.Optional(SendingLimitsJson.properties.quotas),
    sending_windows: Type.Optional(
      Type.Record(Type.String(), Type.Union([SendingWindowJson, Type.Null()]), {
        description: 'Per stream: its window, or null to remove it.',
      }),
    ),
    recipient_risk: Type.Optional(SendingLimitsJson.properties.recipient_risk),
    data_region: Type.Optional(
      Type.Union([Type.String({ pattern: REGION_PATTERN.source }), Type.Null()], {
        description:
          "Pin the tenant's data to a region (eu, us, …), or null to unpin. Nodes of other regions then refuse its sends (403 RESIDENCY_MISMATCH) and leave its queued mail to a node of the region (docs/residency.md).",
      }),
    ),
  },
  {
    additionalProperties: false,
    examples: [
      { alignment: 'reject' },
      { quotas: { daily: 10000, weekly: null }, recipient_risk: { disposable: 'refuse' } },
      { data_region: 'eu' },
    ],
  },
);
const noValidation = () => () => true;
const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

export function tenantRoutes(app: FastifyInstance, s: ApiServices): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.get(
    '/tenant',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['tenant'],
        summary: 'The tenant of the presented key',
        description: 'Who the key belongs to, whether it is a sandbox, its alignment policy, and the scopes of the key itself.',
        response: { 200: TenantWithScopes, ...problems(...AUTHED) },
      },
    },
    async (request) => {
      const p = principalOf(request);
      return {
        ...tenantJson(p.tenant),
        sending_limits: sendingLimitsJson(await s.tenants.getSendingLimits(p.tenant.id)),
        scopes: p.scopes as KeyJson['scopes'],
      };
    },
  );
  r.patch(
    '/tenant',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['tenant'],
        summary: 'Change tenant settings',
        description:
          "alignment: what a send whose From domain would fail DMARC alignment gets. warn records it on the message; reject refuses the send with 422 SENDER_MISALIGNED. data_region: the region the tenant's data is pinned to (docs/residency.md).",
        // Checked by hand below, for field paths on the windows and the risk settings.
        body: Type.Unsafe<unknown>(PatchBody),
        response: { 200: TenantSettings, ...problems(...AUTHED, ...JSON_BODY) },
      },
      validatorCompiler: noValidation,
    },
    async (request) => {
      const p = principalOf(request);
      const body = request.body;
      if (!isObject(body)) throw validationError([{ path: '', message: 'must be an object' }]);
      const unknown = Object.keys(body).filter(
        (k) => !['alignment', 'quotas', 'sending_windows', 'recipient_risk', 'data_region'].includes(k),
      );
      if (unknown.length) throw validationError(unknown.map((k) => ({ path: `/${k}`, message: 'is not a tenant setting' })));
      const { alignment, quotas, sending_windows, recipient_risk, data_region } = body;
      if (alignment !== undefined && alignment !== 'warn' && alignment !== 'reject')
        throw validationError([{ path: '/alignment', message: "must be 'warn' or 'reject'" }]);
      // Checked before anything changes, so a bad region leaves the other settings as they were.
      if (data_region !== undefined && data_region !== null) {
        const problem = typeof data_region === 'string' ? regionProblem(data_region) : 'must be a region label or null';
        if (problem) throw validationError([{ path: '/data_region', message: problem }]);
      }
      const limits = await s.tenants.patchSendingLimits(p.tenant.id, { quotas, sending_windows, recipient_risk }, actorOf(request));
      const tenant = await s.tenants.updateTenant(
        p.tenant.id,
        {
          ...(alignment ? { alignmentPolicy: alignment } : {}),
          ...(data_region !== undefined ? { dataRegion: data_region as string | null } : {}),
        },
        actorOf(request),
      );
      return { ...tenantJson(tenant), sending_limits: sendingLimitsJson(limits) };
    },
  );
}
