import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Experiment, ExperimentResults } from '../../content/index.js';
import { exampleOf } from '../contract/examples.js';
import { IDEMPOTENT, JSON_BODY, problems } from '../contract/problem-schema.js';
import { principalOf } from '../plugins/auth.js';
import type { ApiServices } from '../services.js';
import { authErrors } from './engagement-schemas.js';

/**
 * /v1/experiments: A/B experiments (docs/experiments.md). A send joins one with
 * `experiment: { id }` on POST /v1/messages; results are computed from the events spine.
 */
const Metric = Type.Union([
  Type.Literal('delivered'),
  Type.Literal('opens'),
  Type.Literal('clicks'),
  Type.Literal('bounces'),
  Type.Literal('complaints'),
  Type.Literal('unsubscribes'),
]);
const Variant = Type.Object(
  {
    key: Type.String({ pattern: '^[A-Za-z0-9_-]{1,32}$', description: 'Short name, e.g. A' }),
    name: Type.Optional(Type.String({ maxLength: 200 })),
    subject: Type.Optional(Type.String({ maxLength: 998, description: 'Replaces the send subject' })),
    html: Type.Optional(Type.String({ description: 'Replaces the send HTML' })),
    text: Type.Optional(Type.String({ description: 'Replaces the send text' })),
    template: Type.Optional(
      Type.Object(
        { id: Type.String(), version: Type.Optional(Type.Integer({ minimum: 1 })) },
        { additionalProperties: false, description: 'A template instead of field overrides (rendered by the templates concern)' },
      ),
    ),
    share: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: 'Relative share of recipients' })),
    sample_size: Type.Optional(Type.Integer({ minimum: 1, description: 'Recipients in this arm of the sample' })),
    control: Type.Optional(Type.Boolean({ description: 'The baseline (default: the first variant)' })),
  },
  { additionalProperties: false },
);
const CreateBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    variants: Type.Array(Variant, { minItems: 2, maxItems: 10 }),
    metrics: Type.Optional(Type.Array(Metric, { minItems: 1, uniqueItems: true })),
  },
  {
    additionalProperties: false,
    examples: [
      {
        name: 'December subject line',
        variants: [
          { key: 'A', subject: 'Our December offers', share: 1 },
          { key: 'B', subject: 'Last chance: 40% off', share: 1 },
        ],
        metrics: ['delivered', 'opens', 'clicks', 'bounces', 'complaints', 'unsubscribes'],
      },
    ],
  },
);
const ExperimentJson = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    status: Type.Union([Type.Literal('running'), Type.Literal('stopped')]),
    control: Type.String(),
    serve_variant: Type.Union([Type.String(), Type.Null()], { description: 'Once stopped: the variant every later send gets' }),
    variants: Type.Array(Variant),
    metrics: Type.Array(Metric),
    created_at: Type.String({ format: 'date-time' }),
  },
  {
    examples: [
      {
        id: 'exp_01JEXAMPLE0000000000000000',
        name: 'December subject line',
        status: 'running',
        control: 'A',
        serve_variant: null,
        variants: [
          { key: 'A', subject: 'Our December offers', share: 1 },
          { key: 'B', subject: 'Last chance: 40% off', share: 1 },
        ],
        metrics: ['delivered', 'opens', 'clicks', 'bounces', 'complaints', 'unsubscribes'],
        created_at: '2026-12-06T10:00:00.000Z',
      },
    ],
  },
);
const Interval = Type.Array(Type.Number(), { minItems: 2, maxItems: 2, description: '95% (1 - alpha) interval' });
const Results = Type.Object(
  {
    experiment: ExperimentJson,
    computed_at: Type.String({ format: 'date-time' }),
    arms: Type.Array(
      Type.Object({
        variant: Type.String(),
        provider: Type.String({ description: '"all", a provider key of rules/providers.yaml, or "other"' }),
        sent: Type.Integer(),
        delivered: Type.Integer(),
        bounces: Type.Integer(),
        complaints: Type.Integer(),
        unsubscribes: Type.Integer(),
        opens: Type.Integer(),
        clicks: Type.Integer(),
        machine_opens: Type.Integer(),
        machine_clicks: Type.Integer(),
        metrics: Type.Array(
          Type.Object({ metric: Metric, count: Type.Integer(), of: Type.Integer(), rate: Type.Number(), interval: Interval }),
        ),
      }),
    ),
    comparisons: Type.Array(
      Type.Object({
        variant: Type.String(),
        control: Type.String(),
        provider: Type.String(),
        metric: Metric,
        difference: Type.Number(),
        interval: Interval,
        z: Type.Number(),
        p_value: Type.Number({ description: 'One-sided: variant rate higher than control' }),
        significant: Type.Boolean(),
      }),
    ),
    regressions: Type.Array(
      Type.Object({
        variant: Type.String(),
        provider: Type.String(),
        metric: Metric,
        rate: Type.Number(),
        control_rate: Type.Number(),
        z: Type.Number(),
        p_value: Type.Number(),
        suggestion: Type.String(),
      }),
    ),
  },
  {
    description: 'Per variant and provider; a regression is a significantly worse bounce or complaint rate',
    examples: [
      {
        experiment: exampleOf(ExperimentJson),
        computed_at: '2026-12-06T10:00:00.000Z',
        arms: [
          {
            variant: 'A',
            provider: 'all',
            sent: 500,
            delivered: 495,
            bounces: 5,
            complaints: 0,
            unsubscribes: 1,
            opens: 210,
            clicks: 40,
            machine_opens: 30,
            machine_clicks: 2,
            metrics: [{ metric: 'delivered', count: 495, of: 500, rate: 0.99, interval: [0.977, 0.996] }],
          },
        ],
        comparisons: [],
        regressions: [],
      },
    ],
  },
);
const Id = Type.Object({ id: Type.String({ maxLength: 64 }) });

function experimentJson(e: Experiment) {
  return {
    id: e.id,
    name: e.name,
    status: e.status,
    control: e.control,
    serve_variant: e.serveVariant,
    variants: e.variants,
    metrics: e.metrics,
    created_at: new Date(e.createdAt).toISOString(),
  };
}

function resultsJson(e: Experiment, r: ExperimentResults) {
  return {
    experiment: experimentJson(e),
    computed_at: new Date(r.computedAt).toISOString(),
    arms: r.arms.map((a) => ({ variant: a.variant, provider: a.provider, ...a.tally, metrics: a.metrics })),
    comparisons: r.comparisons.map((c) => ({
      variant: c.variant,
      control: c.control,
      provider: c.provider,
      metric: c.metric,
      difference: c.difference,
      interval: c.interval,
      z: c.z,
      p_value: c.pHigher,
      significant: c.significant,
    })),
    regressions: r.regressions.map((x) => ({
      variant: x.variant,
      provider: x.provider,
      metric: x.metric,
      rate: x.rate,
      control_rate: x.controlRate,
      z: x.z,
      p_value: x.pValue,
      suggestion: x.suggestion,
    })),
  };
}

export function experimentRoutes(app: FastifyInstance, s: ApiServices): void {
  const engagement = s.engagement;
  if (!engagement) return;
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['experiments'];

  r.post(
    '/experiments',
    {
      config: { scope: 'admin' },
      schema: {
        tags,
        summary: 'Create an A/B experiment',
        description: 'Variants with explicit shares or sample sizes; sends join with `experiment: {id}` (one recipient per send).',
        body: CreateBody,
        response: { 201: ExperimentJson, ...problems(...JSON_BODY, ...IDEMPOTENT), ...authErrors },
      },
    },
    async (request, reply) => {
      const e = await engagement.experiments.create(principalOf(request).tenant.id, request.body);
      return reply.code(201).send(experimentJson(e));
    },
  );

  r.get(
    '/experiments',
    {
      config: { scope: 'read' },
      schema: {
        tags,
        summary: "The tenant's experiments",
        description: 'Every experiment of the tenant, running or stopped, with its variants and their shares.',
        response: {
          200: Type.Object({ data: Type.Array(ExperimentJson) }, { examples: [{ data: [exampleOf(ExperimentJson)] }] }),
          ...authErrors,
        },
      },
    },
    async (request) => ({ data: (await engagement.experiments.list(principalOf(request).tenant.id)).map(experimentJson) }),
  );

  r.get(
    '/experiments/:id',
    {
      config: { scope: 'read' },
      schema: {
        tags,
        summary: 'One experiment',
        description: 'The experiment with its variants, its control and, once stopped, the variant every send gets.',
        params: Id,
        response: { 200: ExperimentJson, ...problems(404, 422), ...authErrors },
      },
    },
    async (request) => experimentJson(await engagement.experiments.get(principalOf(request).tenant.id, request.params.id)),
  );

  r.get(
    '/experiments/:id/results',
    {
      config: { scope: 'read' },
      schema: {
        tags,
        summary: 'Results per variant and provider, with confidence intervals and regressions',
        description: 'Computed from the events spine; a new regression is also announced as an experiment.regressed event.',
        params: Id,
        response: { 200: Results, ...problems(404, 422), ...authErrors },
      },
    },
    async (request) => {
      const { experiment, results } = await engagement.results(principalOf(request).tenant.id, request.params.id);
      return resultsJson(experiment, results);
    },
  );

  r.post(
    '/experiments/:id/stop',
    {
      config: { scope: 'admin' },
      schema: {
        tags,
        summary: 'Stop the experiment (roll back): every later send gets one variant, the control by default',
        description: 'Stopping is final: later sends that join the experiment all get `variant` (the control when omitted).',
        params: Id,
        body: Type.Object(
          { variant: Type.Optional(Type.String({ description: 'The variant later sends get' })) },
          { additionalProperties: false, examples: [{ variant: 'A' }] },
        ),
        response: { 200: ExperimentJson, ...problems(404, ...JSON_BODY, ...IDEMPOTENT), ...authErrors },
      },
    },
    async (request) =>
      experimentJson(await engagement.experiments.stop(principalOf(request).tenant.id, request.params.id, request.body.variant)),
  );
}
