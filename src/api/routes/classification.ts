import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { PostwardenError } from '../../core/index.js';
import { AUTHED, JSON_BODY, problems } from '../contract/problem-schema.js';
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
        response: { 200: RulesJson, ...problems(...AUTHED, 404) },
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
        response: { 200: RulesJson, ...problems(...AUTHED, ...JSON_BODY, 404, 422) },
      },
    },
    async (request) => service(s).setRules(principalOf(request).tenant.id, request.body),
  );
}
