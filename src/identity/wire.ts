import { type Static, Type } from 'typebox';
import { streams } from '../core/index.js';
import type { DkimKeyRow, DomainRow } from '../store/index.js';
import type { DomainRecord } from './domain-records.js';
import type { DomainVerification } from './domain-verification.js';

/**
 * The JSON shapes of a domain, its DNS records, its verification and its DKIM keys: snake_case and
 * ISO times, one TypeBox schema and one builder each, for the HTTP API (/v1/domains and its OpenAPI
 * document) and the CLI's --json, so a script reads either. Fields are only ever added.
 */
const iso = (ms: number | null | undefined) => (ms === null || ms === undefined ? null : new Date(ms).toISOString());
const Time = (description: string) => Type.String({ format: 'date-time', description });
const MaybeTime = (description: string) => Type.Union([Time(description), Type.Null()]);
const literals = <const T extends readonly string[]>(values: T, description?: string) =>
  Type.Enum(values, { type: 'string', ...(description ? { description } : {}) });

const StreamJson = literals(streams);
const KeyStatusJson = literals(
  ['pending', 'active', 'retired'] as const,
  'DKIM key lifecycle: pending (publish it), active (signing), retired.',
);
const AlgorithmJson = literals(['rsa-2048', 'ed25519'] as const);

export const DomainJson = Type.Object(
  {
    id: Type.String({ description: 'Domain id (dom_…).' }),
    tenant_id: Type.String(),
    name: Type.String({ description: 'The domain name, lower case.' }),
    streams: Type.Union([Type.Array(StreamJson), Type.Null()], { description: 'Streams that may send as this domain; null: all.' }),
    created_at: Time('When the domain was added.'),
    checked_at: MaybeTime('When its DNS was last checked.'),
    verified_at: MaybeTime('When every required record last verified.'),
  },
  {
    additionalProperties: false,
    examples: [
      {
        id: 'dom_01JD7XY2A5TR',
        tenant_id: 'ten_01JD7XW0P4Z9',
        name: 'example.com',
        streams: null,
        created_at: '2026-01-05T09:35:00.000Z',
        checked_at: '2026-01-05T10:00:00.000Z',
        verified_at: '2026-01-05T10:00:00.000Z',
      },
    ],
  },
);
export type DomainJson = Static<typeof DomainJson>;
export const domainJson = (d: DomainRow): DomainJson => ({
  id: d.id,
  tenant_id: d.tenantId,
  name: d.name,
  // The store holds only streams that setStreams accepted.
  streams: (d.streams as DomainJson['streams']) ?? null,
  created_at: new Date(d.createdAt).toISOString(),
  checked_at: iso(d.checkedAt),
  verified_at: iso(d.verifiedAt),
});

const recordProperties = {
  id: Type.String({ description: 'Stable within the domain: dkim:<selector>, spf, dmarc, …' }),
  kind: literals(['dkim', 'spf', 'dmarc', 'return-path-mx', 'return-path-spf', 'tracking'] as const),
  type: literals(['TXT', 'MX', 'CNAME'] as const),
  name: Type.String({ description: 'The DNS name to publish at.' }),
  value: Type.String({ description: 'The value to publish (MX: `10 host`).' }),
  why: Type.String({ description: 'What the record is for.' }),
  required: Type.Boolean({ description: 'False for records that help but do not gate signing or sending.' }),
  action: literals(['publish', 'remove'] as const, 'remove: a retired key, no longer needed.'),
  selector: Type.Optional(Type.String({ description: 'DKIM only.' })),
  algorithm: Type.Optional(AlgorithmJson),
  status: Type.Optional(KeyStatusJson),
};
const recordExample = {
  id: 'spf',
  kind: 'spf',
  type: 'TXT',
  name: 'example.com',
  value: 'v=spf1 include:spf.mail.example.net ~all',
  why: 'Authorises the platform to send as example.com (RFC 7208).',
  required: false,
  action: 'publish',
};
export const DnsRecordJson = Type.Object(recordProperties, { additionalProperties: false, examples: [recordExample] });
export type DnsRecordJson = Static<typeof DnsRecordJson>;
export const recordJson = (r: DomainRecord): DnsRecordJson => ({
  id: r.id,
  kind: r.kind,
  type: r.type,
  name: r.name,
  value: r.value,
  why: r.why,
  required: r.required,
  action: r.action,
  ...(r.selector ? { selector: r.selector, algorithm: r.algorithm, status: r.keyStatus } : {}),
});

const RecordCheckJson = Type.Object(
  {
    ...recordProperties,
    status: literals(['ok', 'missing', 'mismatch', 'error'] as const, 'What live DNS holds compared with the record.'),
    found: Type.Union([Type.Array(Type.String()), Type.Null()], { description: 'What DNS holds there now; null: nothing.' }),
    detail: Type.Optional(Type.String({ description: 'Why it is not ok.' })),
  },
  { additionalProperties: false },
);
export const VerificationJson = Type.Object(
  {
    domain: Type.String(),
    checked_at: MaybeTime('When the check ran.'),
    verified: Type.Boolean({ description: 'Every required record is ok.' }),
    records: Type.Array(RecordCheckJson),
  },
  {
    additionalProperties: false,
    examples: [
      {
        domain: 'example.com',
        checked_at: '2026-01-05T10:00:00.000Z',
        verified: false,
        records: [{ ...recordExample, status: 'missing', found: null, detail: 'no TXT record at example.com' }],
      },
    ],
  },
);
export type VerificationJson = Static<typeof VerificationJson>;
export const verificationJson = (v: DomainVerification): VerificationJson => ({
  domain: v.domain,
  checked_at: iso(v.checkedAt),
  verified: v.verified,
  records: v.records.map((r) => ({ ...recordJson(r), status: r.status, found: r.found, ...(r.detail ? { detail: r.detail } : {}) })),
});

export const DkimKeyJson = Type.Object(
  {
    id: Type.String(),
    domain: Type.String(),
    selector: Type.String(),
    algorithm: AlgorithmJson,
    purpose: Type.String({ description: 'all, or the one stream it signs for.' }),
    status: KeyStatusJson,
    created_at: Time('When the key was made.'),
    activated_at: MaybeTime('When it began signing.'),
    verified_at: MaybeTime('When its record was last seen in DNS.'),
    retired_at: MaybeTime('When it stopped signing.'),
  },
  {
    additionalProperties: false,
    examples: [
      {
        id: 'dkk_01JD7XY2B8N1',
        domain: 'example.com',
        selector: 'pw202601',
        algorithm: 'rsa-2048',
        purpose: 'all',
        status: 'active',
        created_at: '2026-01-05T09:35:00.000Z',
        activated_at: '2026-01-05T10:00:00.000Z',
        verified_at: '2026-01-05T10:00:00.000Z',
        retired_at: null,
      },
    ],
  },
);
export type DkimKeyJson = Static<typeof DkimKeyJson>;
export const dkimKeyJson = (k: DkimKeyRow): DkimKeyJson => ({
  id: k.id,
  domain: k.domain,
  selector: k.selector,
  algorithm: k.algorithm,
  purpose: k.purpose ?? 'all',
  status: k.status,
  created_at: new Date(k.createdAt).toISOString(),
  activated_at: iso(k.activatedAt),
  verified_at: iso(k.verifiedAt),
  retired_at: iso(k.retiredAt),
});
