import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { isPostwardenError, streams } from '../../core/index.js';
import {
  DkimKeyJson,
  DnsRecordJson,
  DomainJson,
  type DomainVerification,
  dkimKeyJson,
  domainJson,
  recordJson,
  VerificationJson,
  verificationJson,
} from '../../identity/index.js';
import { AUTHED, FieldErrorJson, IDEMPOTENT, JSON_BODY, problems } from '../contract/problem-schema.js';
import { actorOf } from '../plugins/actor.js';
import { principalOf } from '../plugins/auth.js';
import type { ApiServices } from '../services.js';
import { List, NoContent } from './json.js';

/** /v1/domains: sending domains, the DNS records each needs (with why), verification and DKIM keys. */
const Id = Type.Object({ id: Type.String({ description: 'Domain id (dom_…).', examples: ['dom_01JD7XY2A5TR'] }) });
const Streams = Type.Array(Type.Enum(streams, { type: 'string' }), {
  description: 'Streams that may send as this domain; absent or empty: all.',
});
const Withheld = Type.Object(
  { code: Type.String(), detail: Type.String(), errors: Type.Array(FieldErrorJson) },
  {
    additionalProperties: false,
    description: "Why dns_records is empty: the platform's names have no dot (HOSTNAME_UNQUALIFIED), so no record could work.",
  },
);
const domainExample = {
  id: 'dom_01JD7XY2A5TR',
  tenant_id: 'ten_01JD7XW0P4Z9',
  name: 'example.com',
  streams: null,
  created_at: '2026-01-05T09:35:00.000Z',
  checked_at: null,
  verified_at: null,
};
const recordExample = {
  id: 'dmarc',
  kind: 'dmarc',
  type: 'TXT',
  name: '_dmarc.example.com',
  value: 'v=DMARC1; p=none; rua=mailto:dmarc@reports.example.net',
  why: 'Publishes a DMARC policy and where aggregate reports go (RFC 7489).',
  required: true,
  action: 'publish',
};
const AddedDomain = Type.Object(
  { ...DomainJson.properties, dns_records: Type.Array(DnsRecordJson), dns_records_withheld: Type.Optional(Withheld) },
  { additionalProperties: false, examples: [{ ...domainExample, dns_records: [recordExample] }] },
);
const DomainDetail = Type.Object(
  {
    ...DomainJson.properties,
    dns_records: Type.Array(DnsRecordJson),
    verification: Type.Union([VerificationJson, Type.Null()], { description: 'The last verification; null before the first.' }),
  },
  { additionalProperties: false, examples: [{ ...domainExample, dns_records: [recordExample], verification: null }] },
);
const Rotation = Type.Object(
  { data: Type.Array(DkimKeyJson, { description: 'The new pending key(s).' }), dns_records: Type.Array(DnsRecordJson) },
  {
    additionalProperties: false,
    examples: [
      {
        data: [
          {
            id: 'dkk_01JD7Z0A1B2C',
            domain: 'example.com',
            selector: 'pw202602',
            algorithm: 'rsa-2048',
            purpose: 'all',
            status: 'pending',
            created_at: '2026-02-01T09:00:00.000Z',
            activated_at: null,
            verified_at: null,
            retired_at: null,
          },
        ],
        dns_records: [
          {
            id: 'dkim:pw202602',
            kind: 'dkim',
            type: 'TXT',
            name: 'pw202602._domainkey.example.com',
            value: 'v=DKIM1; k=rsa; p=MIIBIjANBgkqh…',
            why: 'The public key receivers check signatures with (RFC 6376).',
            required: true,
            action: 'publish',
            selector: 'pw202602',
            algorithm: 'rsa-2048',
            status: 'pending',
          },
        ],
      },
    ],
  },
);

/**
 * A sandboxed domain is added even when the platform's names have no dot (nothing leaves the
 * machine); its answer then carries why the records are withheld instead of records that cannot work.
 */
async function recordsOrProblem(s: ApiServices, tenantId: string, domainId: string) {
  try {
    return { dns_records: (await s.domains.dnsRecords(tenantId, domainId)).map(recordJson) };
  } catch (e) {
    if (!isPostwardenError(e) || e.code !== 'HOSTNAME_UNQUALIFIED') throw e;
    return { dns_records: [], dns_records_withheld: { code: e.code, detail: e.message, errors: e.details.errors ?? [] } };
  }
}

export function domainRoutes(app: FastifyInstance, s: ApiServices): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.post(
    '/domains',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['domains'],
        summary: 'Add a sending domain',
        description:
          'Adds the domain and its first DKIM key. The answer lists every DNS record to publish, each with why; POST /v1/domains/{id}/verify checks them. 409 when the tenant already has it.',
        body: Type.Object(
          { name: Type.String({ minLength: 1, description: 'The domain name.' }), streams: Type.Optional(Streams) },
          { additionalProperties: false, examples: [{ name: 'example.com' }, { name: 'news.example.com', streams: ['marketing'] }] },
        ),
        response: { 201: AddedDomain, ...problems(...AUTHED, ...JSON_BODY, ...IDEMPOTENT, 409) },
      },
    },
    async (request, reply) => {
      const p = principalOf(request);
      const added = await s.domains.addDomain(p.tenant.id, request.body.name, { streams: request.body.streams }, actorOf(request));
      return reply.code(201).send({ ...domainJson(added.domain), ...(await recordsOrProblem(s, p.tenant.id, added.domain.id)) });
    },
  );
  r.get(
    '/domains',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['domains'],
        summary: 'List sending domains',
        description: 'Every sending domain of the tenant, oldest first.',
        response: { 200: List(DomainJson), ...problems(...AUTHED) },
      },
    },
    async (request) => {
      const p = principalOf(request);
      return { data: (await s.tenants.listDomains(p.tenant.id)).map(domainJson) };
    },
  );
  r.get(
    '/domains/:id',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['domains'],
        summary: 'A sending domain with its DNS records',
        description:
          "The domain, every record to publish and the last verification. 409 HOSTNAME_UNQUALIFIED when the platform's own names have no dot, so no record could work.",
        params: Id,
        response: { 200: DomainDetail, ...problems(...AUTHED, 404, 409) },
      },
    },
    async (request) => {
      const p = principalOf(request);
      const d = await s.tenants.getDomain(p.tenant.id, request.params.id);
      const records = await s.domains.dnsRecords(p.tenant.id, d.id);
      return {
        ...domainJson(d),
        dns_records: records.map(recordJson),
        verification: d.verification ? verificationJson(d.verification as DomainVerification) : null,
      };
    },
  );
  r.patch(
    '/domains/:id',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['domains'],
        summary: 'Restrict a domain to streams',
        description: 'Only the listed streams may send as this domain; null or [] lifts the restriction.',
        params: Id,
        body: Type.Object(
          { streams: Type.Union([Streams, Type.Null()]) },
          { additionalProperties: false, examples: [{ streams: ['transactional'] }, { streams: null }] },
        ),
        response: { 200: DomainJson, ...problems(...AUTHED, ...JSON_BODY, 404) },
      },
    },
    async (request) => {
      const p = principalOf(request);
      return domainJson(await s.domains.setStreams(p.tenant.id, request.params.id, request.body.streams, actorOf(request)));
    },
  );
  r.post(
    '/domains/:id/verify',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['domains'],
        summary: 'Verify the DNS records now',
        description: 'Checks every record in live DNS; per record: ok, missing, mismatch or error, with what was found.',
        params: Id,
        response: { 200: VerificationJson, ...problems(...AUTHED, ...IDEMPOTENT, 404, 409) },
      },
    },
    async (request) => {
      const p = principalOf(request);
      return verificationJson(await s.domains.verify(p.tenant.id, request.params.id, actorOf(request)));
    },
  );
  r.get(
    '/domains/:id/dkim',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['domains'],
        summary: "The domain's DKIM keys",
        description: 'Every selector with its lifecycle: pending (publish it), active (signing), retired.',
        params: Id,
        response: { 200: List(DkimKeyJson), ...problems(...AUTHED, 404) },
      },
    },
    async (request) => {
      const p = principalOf(request);
      return { data: (await s.domains.listKeys(p.tenant.id, request.params.id)).map(dkimKeyJson) };
    },
  );
  r.post(
    '/domains/:id/dkim/rotate',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['domains'],
        summary: 'Start a DKIM rotation',
        description:
          'Makes a new pending selector to publish; signing switches to it once it verifies, and the old key retires. 409 while a new key already waits for its record.',
        params: Id,
        response: { 201: Rotation, ...problems(...AUTHED, ...IDEMPOTENT, 404, 409) },
      },
    },
    async (request, reply) => {
      const p = principalOf(request);
      const id = request.params.id;
      const created = await s.domains.rotate(p.tenant.id, id, actorOf(request));
      const records = (await s.domains.dnsRecords(p.tenant.id, id)).filter((r) => created.some((k) => r.selector === k.selector));
      return reply.code(201).send({ data: created.map(dkimKeyJson), dns_records: records.map(recordJson) });
    },
  );
  r.delete(
    '/domains/:id',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['domains'],
        summary: 'Remove a sending domain',
        description: 'The tenant can no longer send as it; its keys are deleted.',
        params: Id,
        response: { 204: NoContent('Removed.'), ...problems(...AUTHED, 404) },
      },
    },
    async (request, reply) => {
      const p = principalOf(request);
      await s.tenants.removeDomain(p.tenant.id, request.params.id, actorOf(request));
      return reply.code(204).send(null);
    },
  );
}
