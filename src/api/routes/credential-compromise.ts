import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { checkPermission } from '../../access/index.js';
import { CompromiseJson, type CompromiseRequest, clocksOf, compromiseJson, OpenIncidentBody } from '../../compliance/index.js';
import { validationError } from '../../core/index.js';
import { AUTHED, IDEMPOTENT, JSON_BODY, problems } from '../contract/problem-schema.js';
import { actorOf } from '../plugins/actor.js';
import { principalOf } from '../plugins/auth.js';
import type { ApiServices } from '../services.js';
import { complianceOf } from './third-parties.js';
import { callerOf } from './users.js';

/**
 * POST /v1/incidents/credential-compromise: one action that stops a key or a user's sign-in, rotates
 * the tenant's webhook secrets, lists what the credential sent and opens an incident saying so
 * (src/compliance/credential-compromise.ts). Beyond compliance:write (the route's row), the caller
 * must hold what the action does with its own hands: keys:write to revoke a key, users:write to end a
 * user's sign-in, webhooks:write to rotate secrets, so the action is no way around those checks.
 */
const Body = Type.Object(
  {
    key_id: Type.Optional(
      Type.String({ minLength: 1, maxLength: 100, description: 'The compromised API key (key_…), also its SMTP credential.' }),
    ),
    user_id: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'The compromised user (usr_…).' })),
    email: Type.Optional(Type.String({ minLength: 3, maxLength: 254, description: 'The compromised user, by email.' })),
    reason: Type.Optional(Type.String({ maxLength: 10_000, description: 'What is known; the incident’s description.' })),
    severity: Type.Optional(OpenIncidentBody.properties.severity),
    clocks: OpenIncidentBody.properties.clocks,
    since: Type.Optional(
      Type.String({ format: 'date-time', description: 'Start of the window of what it sent (default 30 days before until).' }),
    ),
    until: Type.Optional(Type.String({ format: 'date-time', description: 'End of the window (default now).' })),
    rotate_webhook_secrets: Type.Optional(
      Type.Boolean({ description: 'Rotate every webhook endpoint secret of the tenant (default true).' }),
    ),
    webhook_grace_minutes: Type.Optional(
      Type.Integer({ minimum: 0, maximum: 1440, description: 'Minutes the previous secrets still sign (default 0: not at all).' }),
    ),
  },
  {
    additionalProperties: false,
    examples: [{ key_id: 'key_01JF8Z0000', reason: 'The key was pushed to a public repository', clocks: ['gdpr'] }],
  },
);

export function credentialCompromiseRoutes(app: FastifyInstance, s: ApiServices): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.post(
    '/incidents/credential-compromise',
    {
      schema: {
        tags: ['compliance'],
        summary: 'Respond to a compromised key or user',
        description:
          'In order: revokes the API key (the API and SMTP AUTH refuse it at once), or ends every session of the user and clears their password and TOTP until a new password is set; rotates every webhook endpoint secret of the tenant (the new secrets are in this answer only); lists the messages accepted with the credential in the window; opens an incident of kind credential_compromise linked to the key or user and those messages, its timeline saying what was done. Each change is audited. Give exactly one of key_id, user_id, email. 403 names keys:write, users:write or webhooks:write when the caller lacks what the action does.',
        body: Body,
        response: { 201: CompromiseJson, ...problems(...AUTHED, ...JSON_BODY, ...IDEMPOTENT, 404) },
      },
    },
    async (request, reply) => {
      const p = principalOf(request);
      const b = request.body;
      const given = (['key_id', 'user_id', 'email'] as const).filter((k) => b[k] !== undefined);
      if (given.length !== 1) {
        throw validationError([{ path: `/${given[1] ?? 'key_id'}`, message: 'give exactly one of key_id, user_id and email' }]);
      }
      const holder = { permissions: p.permissions, label: p.user ? `${p.user.email} (role ${p.user.role})` : `key ${p.keyId}` };
      checkPermission(holder, b.key_id !== undefined ? 'keys:write' : 'users:write');
      const rotate = b.rotate_webhook_secrets ?? true;
      if (rotate) checkPermission(holder, 'webhooks:write');
      const time = (v: string | undefined, name: string) => {
        if (v === undefined) return undefined;
        const ms = Date.parse(v);
        if (Number.isNaN(ms)) throw validationError([{ path: `/${name}`, message: 'must be an ISO date-time' }]);
        return ms;
      };
      const req: CompromiseRequest = {
        target: b.key_id !== undefined ? { keyId: b.key_id } : b.user_id !== undefined ? { userId: b.user_id } : { email: b.email! },
        reason: b.reason,
        severity: b.severity,
        clocks: clocksOf(b.clocks),
        since: time(b.since, 'since'),
        until: time(b.until, 'until'),
        rotateWebhooks: rotate,
        webhookGraceMs: (b.webhook_grace_minutes ?? 0) * 60_000,
      };
      const { credentials, incidents } = complianceOf(s);
      const result = await credentials.respond(p.tenant.id, req, { actor: actorOf(request), caller: callerOf(p) });
      return reply.code(201).send(compromiseJson(result, await incidents.reminders(result.incident.id)));
    },
  );
}
