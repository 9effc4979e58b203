import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { periodWithDefaults } from '../../compliance/index.js';
import { type FieldError, PostwardenError, validationError } from '../../core/index.js';
import { AUTHED, problems } from '../contract/problem-schema.js';
import { principalOf } from '../plugins/auth.js';
import type { ApiServices } from '../services.js';

/** Compliance evidence of the tenant (docs/compliance.md): its records of processing. */
const Count = (description: string) => Type.Integer({ minimum: 0, description });
const Classification = Type.Union([Type.String(), Type.Null()], {
  description:
    'The highest-ranked classification of the message (public, internal, confidential, pii, phi, pci or tenant-defined); null: unclassified.',
});
const TlsCounts = Type.Object(
  {
    dane: Count('Delivered to an MX authenticated by DANE (RFC 7672).'),
    verified: Count('Delivered over TLS with a PKIX-valid certificate for the MX name.'),
    opportunistic: Count('Delivered over TLS whose peer was not authenticated (RFC 3207).'),
    plaintext: Count('Delivered without TLS.'),
  },
  { additionalProperties: false, description: 'Recipients delivered, by the TLS evidence of the delivering attempt.' },
);
const counts = {
  accepted: Count('Messages accepted in the period.'),
  sandbox: Count('Of them, captured by the sandbox instead of sent.'),
  delivered_messages: Count('Messages with a recipient delivered in the period.'),
  delivered_recipients: Count('Recipients delivered in the period.'),
  tls: TlsCounts,
};
const Stream = Type.String({ description: 'transactional, marketing or cold.' });
const RecordsJson = Type.Object(
  {
    kind: Type.Literal('postwarden.records-of-processing'),
    version: Type.Literal(1),
    tenant_id: Type.String(),
    period: Type.Object(
      { from: Type.String({ format: 'date-time' }), to: Type.String({ format: 'date-time', description: 'Exclusive.' }) },
      { additionalProperties: false },
    ),
    generated_at: Type.String({ format: 'date-time' }),
    flows: Type.Array(Type.Object({ stream: Stream, classification: Classification, ...counts }, { additionalProperties: false }), {
      description: 'Which data categories flowed through which stream: one row per stream and classification.',
    }),
    classifications: Type.Array(
      Type.Object({ classification: Classification, streams: Type.Array(Stream), ...counts }, { additionalProperties: false }),
      { description: 'Per classification over every stream, most recipients delivered first.' },
    ),
    totals: Type.Object(counts, { additionalProperties: false }),
    third_parties: Type.Array(
      Type.Object(
        {
          id: Type.String(),
          name: Type.String(),
          status: Type.Enum(['active', 'proposed'], { type: 'string' }),
          owner: Type.Union([Type.String(), Type.Null()]),
          purpose: Type.Union([Type.String(), Type.Null()]),
          data_categories: Type.Array(Type.String()),
          dpa: Type.Union([
            Type.Object({ signed_at: Type.String(), reference: Type.String() }, { additionalProperties: false }),
            Type.Null(),
          ]),
          certifications: Type.Array(
            Type.Object(
              {
                name: Type.String(),
                issuer: Type.String(),
                expires_at: Type.String(),
                current: Type.Boolean({ description: 'Not expired when the records were generated.' }),
              },
              { additionalProperties: false },
            ),
          ),
          review_due_at: Type.Union([Type.String(), Type.Null()]),
          review_overdue: Type.Boolean(),
        },
        { additionalProperties: false },
      ),
      { description: 'The third-party register: who processes the data, for what, under which DPA and certifications.' },
    ),
    retention: Type.Array(
      Type.Object(
        {
          data_class: Type.String(),
          max_days: Type.Union([Type.Integer(), Type.Null()], { description: 'Purged after; null: never automatically.' }),
          min_days: Type.Union([Type.Integer(), Type.Null()], { description: 'Kept at least; null: no minimum.' }),
          custom: Type.Boolean({ description: 'Set by the tenant (false: the default).' }),
        },
        { additionalProperties: false },
      ),
    ),
    retention_classes: Type.Array(
      Type.Object(
        {
          name: Type.String(),
          max_days: Type.Union([Type.Integer(), Type.Null()], { description: 'Bodies purged after; null: never automatically.' }),
          min_days: Type.Union([Type.Integer(), Type.Null()], { description: 'Kept at least; null: no minimum.' }),
          policies: Type.Array(Type.Object({ rule: Type.String(), classification: Type.String() }, { additionalProperties: false }), {
            description: 'The classification policies that give messages this class.',
          }),
        },
        { additionalProperties: false },
      ),
      {
        description:
          'Retention classes: how long the bodies of the classifications named are kept, instead of the `bodies` data class (docs/retention.md).',
      },
    ),
  },
  {
    additionalProperties: false,
    examples: [
      {
        kind: 'postwarden.records-of-processing',
        version: 1,
        tenant_id: 'ten_01JD7XY2A5TR',
        period: { from: '2026-11-01T00:00:00.000Z', to: '2026-12-01T00:00:00.000Z' },
        generated_at: '2026-12-06T10:00:00.000Z',
        flows: [
          {
            stream: 'transactional',
            classification: 'pci',
            accepted: 120,
            sandbox: 0,
            delivered_messages: 119,
            delivered_recipients: 119,
            tls: { dane: 12, verified: 107, opportunistic: 0, plaintext: 0 },
          },
        ],
        classifications: [
          {
            classification: 'pci',
            streams: ['transactional'],
            accepted: 120,
            sandbox: 0,
            delivered_messages: 119,
            delivered_recipients: 119,
            tls: { dane: 12, verified: 107, opportunistic: 0, plaintext: 0 },
          },
        ],
        totals: {
          accepted: 120,
          sandbox: 0,
          delivered_messages: 119,
          delivered_recipients: 119,
          tls: { dane: 12, verified: 107, opportunistic: 0, plaintext: 0 },
        },
        third_parties: [],
        retention: [{ data_class: 'bodies', max_days: 7, min_days: null, custom: false }],
        retention_classes: [{ name: 'phi-6y', max_days: 2190, min_days: 2190, policies: [{ rule: 'phi-records', classification: 'phi' }] }],
      },
    ],
  },
);

export function complianceRoutes(app: FastifyInstance, s: ApiServices): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.get(
    '/compliance/records-of-processing',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['compliance'],
        summary: 'Records of processing',
        description:
          "The tenant's records of processing (GDPR Art. 30 style) over [from, to): messages per stream and classification, recipients delivered by TLS evidence (DANE, verified, opportunistic, plaintext), the third parties that process the data and the retention of each data class.",
        querystring: Type.Object(
          {
            from: Type.Optional(
              Type.String({ description: 'ISO 8601 start (inclusive); default 30 days before `to`', examples: ['2026-11-01'] }),
            ),
            to: Type.Optional(Type.String({ description: 'ISO 8601 end (exclusive); default now', examples: ['2026-12-01'] })),
          },
          { additionalProperties: false },
        ),
        response: { 200: RecordsJson, ...problems(...AUTHED, 404, 422) },
      },
    },
    async (request) => {
      const q = request.query;
      const errors: FieldError[] = [];
      const time = (v: string | undefined, path: string): number | undefined => {
        if (v === undefined) return undefined;
        const t = Date.parse(v);
        if (Number.isNaN(t)) errors.push({ path, message: 'must be an ISO 8601 date or date-time' });
        return t;
      };
      const period = periodWithDefaults({ from: time(q.from, '/query/from'), to: time(q.to, '/query/to') }, s.clock.now());
      if (!errors.length && period.from >= period.to) errors.push({ path: '/query/from', message: 'must be before to' });
      if (errors.length) throw validationError(errors);
      if (!s.recordsOfProcessing) throw new PostwardenError('NOT_FOUND', 'records of processing are not available on this node');
      return s.recordsOfProcessing({ tenantId: principalOf(request).tenant.id, ...period });
    },
  );
}
