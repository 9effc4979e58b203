import { type Static, Type } from 'typebox';
import type { AuditEntryRow } from '../store/index.js';
import { actorKinds } from './actor.js';

/**
 * The JSON of an audit entry: GET /v1/audit, the NDJSON export (API and CLI) and the syslog message
 * body alike. It carries every hashed member, so a reader can recompute `hash` itself
 * (docs/governance.md: `at` is the ISO form of the hashed millisecond time).
 */
const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);
const Str = (description: string) => Nullable(Type.String({ description }));

export const AuditEntryJson = Type.Object(
  {
    id: Type.String({ description: 'Entry id (adt_…).' }),
    chain: Type.String({ description: 'The hash chain: the tenant id, or `platform` for actions on no tenant.' }),
    seq: Type.Integer({ minimum: 1, description: 'Position in the chain, 1, 2, 3 … without gaps; the cursor of GET /v1/audit.' }),
    tenant_id: Str('The tenant whose chain holds the entry.'),
    at: Type.String({ format: 'date-time', description: 'When the change committed (millisecond precision).' }),
    actor: Type.Object(
      {
        kind: Type.Enum(actorKinds, {
          type: 'string',
          description:
            'api_key, user, operator (the host operator, osuser@host), system (a job); cli: the host operator in entries written before operator.',
        }),
        id: Type.String({ description: 'Key id, user id, OS user name or job name.' }),
        tenant_id: Str('The tenant the actor acted for.'),
        ip: Str('Where the request came from.'),
        user_agent: Str('The request’s User-Agent.'),
        key_id: Str('The API key presented.'),
      },
      { additionalProperties: false },
    ),
    action: Type.String({ description: 'What was done, e.g. api_key.created (docs/governance.md lists every action).' }),
    resource: Type.Object(
      { type: Type.String({ description: 'e.g. api_key, domain, dkim_key, message.' }), id: Str('The resource’s id.') },
      { additionalProperties: false },
    ),
    before: Type.Unknown({ description: 'The settings before the change (never secrets); null when none.' }),
    after: Type.Unknown({ description: 'The settings after the change (never secrets); null when none.' }),
    reason: Str('Why, when the caller gave a reason.'),
    prev_hash: Type.String({ description: 'Hash of the previous entry of the chain (64 zeros for the first).' }),
    hash: Type.String({ description: 'SHA-256 of this entry’s canonical encoding (docs/governance.md).' }),
  },
  {
    additionalProperties: false,
    examples: [
      {
        id: 'adt_01JD7XW9K3B2R8Y0',
        chain: 'ten_01JD7XW0P4Z9',
        seq: 12,
        tenant_id: 'ten_01JD7XW0P4Z9',
        at: '2026-01-05T09:31:00.000Z',
        actor: {
          kind: 'api_key',
          id: 'key_01JD7XW3M2QK',
          tenant_id: 'ten_01JD7XW0P4Z9',
          ip: '203.0.113.7',
          user_agent: 'curl/8.5',
          key_id: 'key_01JD7XW3M2QK',
        },
        action: 'api_key.created',
        resource: { type: 'api_key', id: 'key_01JD7XWB1S9F' },
        before: null,
        after: { name: 'billing service', scopes: ['send'], hint: 'pw_f3a9' },
        reason: null,
        prev_hash: '5f1c…',
        hash: '9a0e…',
      },
    ],
  },
);
export type AuditEntryJson = Static<typeof AuditEntryJson>;

export const auditEntryJson = (e: AuditEntryRow): AuditEntryJson => ({
  id: e.id,
  chain: e.chain,
  seq: e.seq,
  tenant_id: e.tenantId,
  at: new Date(e.at).toISOString(),
  actor: {
    kind: e.actorKind as AuditEntryJson['actor']['kind'],
    id: e.actorId,
    tenant_id: e.actorTenantId,
    ip: e.actorIp,
    user_agent: e.actorUserAgent,
    key_id: e.actorKeyId,
  },
  action: e.action,
  resource: { type: e.resourceType, id: e.resourceId },
  before: e.beforeJson === null ? null : JSON.parse(e.beforeJson),
  after: e.afterJson === null ? null : JSON.parse(e.afterJson),
  reason: e.reason,
  prev_hash: e.prevHash,
  hash: e.hash,
});
