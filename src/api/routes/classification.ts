import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { PostwardenError } from '../../core/index.js';
import { AUTHED, JSON_BODY, problems } from '../contract/problem-schema.js';
import { actorOf } from '../plugins/actor.js';
import { principalOf } from '../plugins/auth.js';
import type { ApiServices } from '../services.js';

const Name = Type.String({ description: 'A classification: public, internal, confidential, pii, phi, pci or a tenant-defined name.' });
const Policy = Type.Object(
  {
    id: Type.String({ description: 'Rule id recorded on every message it applies to.' }),
    classification: Name,
    require_tls: Type.Optional(
      Type.Enum(['verified', 'dane'], { type: 'string', description: 'Never opportunistic: mail that cannot meet it is deferred.' }),
    ),
    allowed_domains: Type.Optional(Type.Array(Type.String(), { description: 'Recipient domains (and subdomains) allowed.' })),
    pool: Type.Optional(Type.String({ description: 'Egress pool the message leaves from.' })),
    refuse: Type.Optional(Type.Boolean({ description: 'Refuse such messages (422/550 CLASSIFICATION_REFUSED).' })),
    retention_class: Type.Optional(
      Type.String({
        description:
          "One of the tenant's retention classes (GET /v1/retention `classes`): the message's body is kept by it instead of the `bodies` policy. When several apply, the one keeping longest wins.",
        examples: ['phi-6y'],
      }),
    ),
  },
  { additionalProperties: false },
);
const Rule = Type.Object(
  { id: Type.String(), pattern: Type.String({ description: 'Regular expression (ECMAScript, u flag).' }), classification: Name },
  { additionalProperties: false },
);
const Health = Type.Object(
  {
    id: Type.String(),
    scheme: Type.Enum(['nhs', 'pattern'], { type: 'string', description: 'nhs: UK NHS number with its check digit; pattern: your own.' }),
    pattern: Type.Optional(Type.String()),
    classification: Type.Optional(Name),
  },
  { additionalProperties: false },
);
const Detectors = Type.Object(
  {
    card_number: Type.Optional(Type.Union([Name, Type.Null()], { description: 'Card numbers passing Luhn; null: off.' })),
    iban: Type.Optional(Type.Union([Name, Type.Null()], { description: 'IBANs passing mod-97; null: off.' })),
    us_ssn: Type.Optional(Type.Union([Name, Type.Null()], { description: 'US SSNs outside the never-issued ranges; null: off.' })),
  },
  { additionalProperties: false },
);
const RulesBody = Type.Object(
  {
    classifications: Type.Optional(Type.Array(Type.String(), { description: 'Tenant-defined classification names.' })),
    tags: Type.Optional(Type.Record(Type.String(), Name, { description: 'Tag → classification.' })),
    detectors: Type.Optional(Detectors),
    patterns: Type.Optional(Type.Array(Rule)),
    health_identifiers: Type.Optional(Type.Array(Health)),
    policies: Type.Optional(Type.Array(Policy)),
  },
  {
    additionalProperties: false,
    examples: [{ policies: [{ id: 'pci-verified-tls', classification: 'pci', require_tls: 'verified' }] }],
  },
);
const RulesJson = Type.Object(
  {
    classifications: Type.Array(Type.String()),
    tags: Type.Record(Type.String(), Type.String()),
    detectors: Type.Record(Type.String(), Type.String()),
    patterns: Type.Array(Rule),
    health_identifiers: Type.Array(Health),
    policies: Type.Array(Policy),
  },
  {
    additionalProperties: false,
    examples: [
      {
        classifications: [],
        tags: {},
        detectors: { card_number: 'pci', iban: 'pii', us_ssn: 'pii' },
        patterns: [],
        health_identifiers: [],
        policies: [{ id: 'pci-verified-tls', classification: 'pci', require_tls: 'verified' }],
      },
    ],
  },
);

function service(s: ApiServices) {
  if (!s.classification) throw new PostwardenError('NOT_FOUND', 'classification is not available on this node');
  return s.classification;
}

/** A tenant's classification and DLP rules (docs/classification.md). */
export function classificationRoutes(app: FastifyInstance, s: ApiServices): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.get(
    '/classification/rules',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['tenant'],
        summary: 'The classification and DLP rules',
        description: 'Tag mapping, DLP detectors, custom patterns, health identifiers and the policy of each classification.',
        response: { 200: RulesJson, ...problems(...AUTHED) },
      },
    },
    async (request) => service(s).getRules(principalOf(request).tenant.id),
  );
  r.put(
    '/classification/rules',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['tenant'],
        summary: 'Set the classification and DLP rules',
        description:
          'Replaces the document. Detectors a document does not name raise their natural classification (card_number: pci, iban and us_ssn: pii). Every decision is recorded on the message with the rule id, never the matched data.',
        body: RulesBody,
        response: { 200: RulesJson, ...problems(...AUTHED, ...JSON_BODY) },
      },
    },
    async (request) => service(s).setRules(principalOf(request).tenant.id, request.body, actorOf(request)),
  );
}

const FindingJson = Type.Object(
  {
    check: Type.String({ description: 'Stable check id (tls-legacy-version, certificate-expiring, open-relay, …).' }),
    listener: Type.String({ description: 'submission, mx, https or dependencies.' }),
    severity: Type.Enum(['critical', 'high', 'medium', 'low', 'info'], { type: 'string' }),
    title: Type.String(),
    detail: Type.String(),
    observed_at: Type.String({ format: 'date-time', description: 'When the run observed it.' }),
    evidence: Type.Record(Type.String(), Type.Unknown()),
  },
  { additionalProperties: false },
);
const RunJson = Type.Object(
  {
    id: Type.String({ description: 'Run id (sa_…).' }),
    started_at: Type.String({ format: 'date-time' }),
    finished_at: Type.String({ format: 'date-time' }),
    status: Type.Enum(['pass', 'findings'], { type: 'string' }),
    findings: Type.Array(FindingJson),
    regressions: Type.Array(FindingJson, { description: 'Findings the previous run did not have (history lists leave it empty).' }),
  },
  { additionalProperties: false },
);

const HistoryJson = Type.Object(
  { data: Type.Array(RunJson) },
  {
    additionalProperties: false,
    examples: [
      {
        data: [
          {
            id: 'sa_01JF8Z3Q4N',
            started_at: '2026-12-06T16:00:00.000Z',
            finished_at: '2026-12-06T16:00:04.000Z',
            status: 'findings',
            findings: [
              {
                check: 'tls-legacy-version',
                listener: 'submission',
                severity: 'high',
                title: 'submission accepts TLSv1',
                detail: 'RFC 8996 deprecates TLS 1.0 and 1.1; set the minimum to TLS 1.2.',
                observed_at: '2026-12-06T16:00:00.000Z',
                evidence: { host: '127.0.0.1', port: 587 },
              },
            ],
            regressions: [],
          },
        ],
      },
    ],
  },
);

/** The platform's self-assessment history (docs/self-assessment.md). */
export function selfAssessmentRoutes(app: FastifyInstance, s: ApiServices): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.get(
    '/self-assessment',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['stats'],
        summary: 'Self-assessment history',
        description:
          "Runs of the platform's self-assessment, newest first: its own listeners probed as a remote would (TLS versions and suites, certificate chain and expiry, STARTTLS, open relay) and npm audit, each finding dated.",
        querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })) }),
        response: { 200: HistoryJson, ...problems(...AUTHED, 422) },
      },
    },
    async (request) => {
      if (!s.selfAssessment) throw new PostwardenError('NOT_FOUND', 'the self-assessment is not available on this node');
      return { data: await s.selfAssessment().history({ limit: request.query.limit ?? 20 }) };
    },
  );
}
