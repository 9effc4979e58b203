import { type Static, Type } from 'typebox';
import { permissions } from '../access/index.js';
import type { Tenant } from '../store/index.js';
import { scopes } from './api-keys.js';
import type { CreatedKey } from './tenants.js';
import { type TenantTlsPolicyDoc, tlsPolicyLevels } from './tls-policy.js';

/**
 * The JSON of a tenant and of an API key: one TypeBox schema and one builder each, used by the HTTP
 * API (/v1/tenant, /v1/keys, its OpenAPI document) and the CLI's --json alike, so a script reads
 * either. Fields are only ever added (docs/api.md, "Compatibility policy").
 */
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const Time = (description: string) => Type.String({ format: 'date-time', description });

export const TenantJson = Type.Object(
  {
    id: Type.String({ description: 'Tenant id (ten_…).' }),
    name: Type.String(),
    sandbox: Type.Boolean({ description: 'Sandbox tenants capture mail instead of sending it.' }),
    alignment: Type.Enum(['warn', 'reject'], {
      type: 'string',
      description: 'What a send that would fail DMARC alignment gets: warn (recorded) or reject (refused, 422).',
    }),
    created_at: Time('When the tenant was created.'),
    data_region: Type.Union([Type.String(), Type.Null()], {
      description:
        "The region the tenant's data is pinned to: only nodes of that region (residency.region) accept, store and deliver its mail. null: not pinned (docs/residency.md).",
    }),
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
      },
    ],
  },
);
export type TenantJson = Static<typeof TenantJson>;
export const tenantJson = (t: Tenant): TenantJson => ({
  id: t.id,
  name: t.name,
  sandbox: t.sandbox,
  alignment: t.alignmentPolicy,
  created_at: new Date(t.createdAt).toISOString(),
  data_region: t.dataRegion,
});

const ScopeJson = Type.Enum([...scopes, ...permissions], {
  type: 'string',
  description:
    'A legacy scope (send: send mail and add suppressions; read: read everything; admin: everything, keys and settings too) or a permission (docs/access.md).',
});

const keyExample = {
  id: 'key_01JD7XW3M2QK',
  tenant_id: 'ten_01JD7XW0P4Z9',
  name: 'billing service',
  hint: '…f3a9',
  scopes: ['send'],
  created_at: '2026-01-05T09:31:00.000Z',
  revoked_at: null,
};
export const KeyJson = Type.Object(
  {
    id: Type.String({ description: 'Key id (key_…); not the secret.' }),
    tenant_id: Type.String(),
    name: Type.String(),
    hint: Type.String({ description: 'The last characters of the secret, to tell keys apart.' }),
    scopes: Type.Array(ScopeJson),
    created_at: Time('When the key was created.'),
    revoked_at: Type.Union([Time('When the key was revoked.'), Type.Null()]),
  },
  { additionalProperties: false, examples: [keyExample] },
);
export type KeyJson = Static<typeof KeyJson>;
export const keyJson = (k: CreatedKey['key']): KeyJson => ({
  id: k.id,
  tenant_id: k.tenantId,
  name: k.name,
  hint: k.hint,
  // The store holds only grants that parseScopes accepted.
  scopes: k.scopes as KeyJson['scopes'],
  created_at: new Date(k.createdAt).toISOString(),
  revoked_at: iso(k.revokedAt),
});

export const CreatedKeyJson = Type.Object(
  { ...KeyJson.properties, secret: Type.String({ description: 'The key itself (pw_…); shown once, never stored.' }) },
  {
    additionalProperties: false,
    examples: [{ ...keyExample, secret: 'pw_4kq9x2V7…' }],
  },
);
export const createdKeyJson = (c: CreatedKey): Static<typeof CreatedKeyJson> => ({ ...keyJson(c.key), secret: c.secret });

const LevelJson = Type.Enum(tlsPolicyLevels, {
  type: 'string',
  description: 'opportunistic: TLS when offered; required: TLS 1.2+; verified: TLS 1.2+ with a valid certificate.',
});
export const TlsPolicyJson = Type.Object(
  {
    default: LevelJson,
    streams: Type.Object(
      { transactional: Type.Optional(LevelJson), marketing: Type.Optional(LevelJson), cold: Type.Optional(LevelJson) },
      { additionalProperties: false, description: 'Per stream, overriding the default.' },
    ),
  },
  { additionalProperties: false, examples: [{ default: 'opportunistic', streams: { transactional: 'verified' } }] },
);
export const tlsPolicyJson = (d: TenantTlsPolicyDoc): Static<typeof TlsPolicyJson> => ({ default: d.default, streams: d.streams });

export const SendingWindowJson = Type.Object(
  {
    timezone: Type.String({ description: 'IANA time zone, e.g. Europe/Berlin.' }),
    days: Type.Array(Type.Enum(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], { type: 'string' })),
    start: Type.String({ description: 'Local opening time HH:MM.' }),
    end: Type.String({ description: 'Local closing time HH:MM (24:00 for midnight).' }),
  },
  { additionalProperties: false },
);
export const sendingLimitsExample = {
  quotas: { daily: 10000, weekly: 50000 },
  sending_windows: { marketing: { timezone: 'Europe/Berlin', days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '08:00', end: '20:00' } },
  recipient_risk: { disposable: 'refuse', role_accounts: 'flag' },
};
export const tenantExample = {
  id: 'ten_01JD7XW0P4Z9',
  name: 'Acme',
  sandbox: false,
  alignment: 'warn',
  created_at: '2026-01-05T09:30:00.000Z',
  data_region: 'eu',
};
/** A tenant's quotas, sending windows and recipient-risk policy (src/tenants/sending-limits.ts). */
export const SendingLimitsJson = Type.Object(
  {
    quotas: Type.Object(
      {
        daily: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()], { description: 'Recipients accepted per UTC day; null: no cap.' }),
        weekly: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()], {
          description: 'Recipients accepted per week from Monday 00:00 UTC; null: no cap.',
        }),
      },
      { additionalProperties: false },
    ),
    sending_windows: Type.Record(Type.String(), SendingWindowJson, {
      description: 'Per stream: mail accepted outside its window is scheduled for the next opening, not refused.',
    }),
    recipient_risk: Type.Object(
      {
        disposable: Type.Enum(['allow', 'refuse'], {
          type: 'string',
          description: 'refuse: 422 RECIPIENT_DISPOSABLE for such recipients.',
        }),
        role_accounts: Type.Enum(['allow', 'flag'], { type: 'string', description: 'flag: a warning on the accept answer.' }),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false, examples: [sendingLimitsExample] },
);
