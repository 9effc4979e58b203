import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { validationError } from '../../core/index.js';
import { type HoldKind, retentionClasses } from '../../retention/index.js';
import type { HoldRow } from '../../store/index.js';
import { AUTHED, IDEMPOTENT, JSON_BODY, problems } from '../contract/problem-schema.js';
import { actorOf } from '../plugins/actor.js';
import { principalOf } from '../plugins/auth.js';
import type { ApiServices } from '../services.js';

/**
 * Retention policies, legal holds and erasure (docs/retention.md): GET/PUT /v1/retention,
 * POST /v1/legal-holds, DELETE /v1/legal-holds/{id}, POST /v1/erasures, GET /v1/erasures/{id}.
 * Every change is audited in the transaction that makes it.
 */
const Kind = Type.Union([Type.Literal('tenant'), Type.Literal('message'), Type.Literal('address'), Type.Literal('range')]);
const iso = (ms: number | null) => (ms === null ? null : new Date(Number(ms)).toISOString());
const Iso = Type.Union([Type.String({ format: 'date-time' }), Type.Null()]);

/**
 * Days in a request, or null. One JSON Schema type list, not an anyOf: with the API's `coerceTypes`,
 * Ajv tries an anyOf's branches in order and coerces `null` to `0` in the integer branch, which would
 * turn "never purge" into "purge now". With a type list Ajv coerces only when no listed type matches.
 */
const Days = Type.Unsafe<number | null>({ type: ['integer', 'null'], minimum: 0 });

const PolicyJson = Type.Object(
  {
    data_class: Type.String({ description: `One of ${retentionClasses.join(', ')}.`, examples: ['bodies'] }),
    max_days: Type.Union([Type.Integer(), Type.Null()], { description: 'Purge after this many days; null: never automatically.' }),
    min_days: Type.Union([Type.Integer(), Type.Null()], { description: 'Keep at least this many days; null: no minimum.' }),
    custom: Type.Boolean({ description: 'False: the documented default.' }),
  },
  { additionalProperties: false },
);

const ClassJson = Type.Object(
  {
    name: Type.String({
      description: 'A retention class a classification policy may name (docs/classification.md).',
      examples: ['phi-6y'],
    }),
    max_days: Type.Union([Type.Integer(), Type.Null()], {
      description: "Purge a message's body this many days after its last attempt; null: never automatically.",
    }),
    min_days: Type.Union([Type.Integer(), Type.Null()], { description: 'Keep at least this many days; null: no minimum.' }),
  },
  { additionalProperties: false },
);
const classJson = (c: { name: string; maxDays: number | null; minDays: number | null }) => ({
  name: c.name,
  max_days: c.maxDays,
  min_days: c.minDays,
});

const HoldJson = Type.Object(
  {
    id: Type.String({ examples: ['hld_01JD7XWB1S9FQ0M3J8Q1V9Y2KZ'] }),
    object: Type.Literal('legal_hold'),
    kind: Kind,
    message_id: Type.Union([Type.String(), Type.Null()]),
    address_hash: Type.Union([Type.String(), Type.Null()], {
      description: 'The keyed hash of the held address; the address is not stored.',
    }),
    from: Iso,
    until: Iso,
    reason: Type.String(),
    created_at: Type.String({ format: 'date-time' }),
    released_at: Iso,
  },
  {
    additionalProperties: false,
    examples: [
      {
        id: 'hld_01JD7XWB1S9FQ0M3J8Q1V9Y2KZ',
        object: 'legal_hold',
        kind: 'address',
        message_id: null,
        address_hash: 'm1Qn0m2c1bJt0e2nYyQ6wq3mX0Kq5r2D9cVbq1S5w8E',
        from: null,
        until: null,
        reason: 'Litigation 2026-17',
        created_at: '2026-11-23T09:00:00.000Z',
        released_at: null,
      },
    ],
  },
);

const holdJson = (h: HoldRow) => ({
  id: h.id,
  object: 'legal_hold' as const,
  kind: h.kind as HoldKind,
  message_id: h.message_id,
  address_hash: h.address_hash,
  from: iso(h.from_at),
  until: iso(h.until_at),
  reason: h.reason,
  created_at: new Date(Number(h.created_at)).toISOString(),
  released_at: iso(h.released_at),
});

const RetentionJson = Type.Object(
  {
    policies: Type.Array(PolicyJson),
    conflicts: Type.Array(Type.Object({ data_class: Type.String(), message: Type.String() }, { additionalProperties: false })),
    classes: Type.Array(ClassJson, {
      description:
        'Retention classes: body retention a classification policy gives its messages instead of the `bodies` policy (whose min_days stays a floor).',
    }),
    holds: Type.Array(HoldJson),
  },
  {
    additionalProperties: false,
    examples: [
      {
        policies: [{ data_class: 'bodies', max_days: 7, min_days: null, custom: false }],
        conflicts: [],
        classes: [{ name: 'phi-6y', max_days: 2190, min_days: 2190 }],
        holds: [],
      },
    ],
  },
);

const ReceiptJson = Type.Object(
  {
    id: Type.String({ examples: ['era_01JD7XWB1S9FQ0M3J8Q1V9Y2KZ'] }),
    object: Type.Literal('erasure'),
    address_hash: Type.String({ description: 'The keyed hash the address lives on as (its suppression).' }),
    state: Type.Union([Type.Literal('completed'), Type.Literal('held')], {
      description: 'held: a legal hold kept everything; nothing was erased.',
    }),
    at: Type.String({ format: 'date-time' }),
    erased: Type.Array(Type.Object({ table: Type.String(), rows: Type.Integer() }, { additionalProperties: false }), {
      description: 'Rows changed per table: removed (bodies, raw reports) or with the address redacted.',
    }),
    kept: Type.Array(Type.Object({ table: Type.String(), rows: Type.Integer(), reason: Type.String() }, { additionalProperties: false }), {
      description: 'What still names the address, and why (legal holds, the audit log, the global list).',
    }),
    suppression: Type.Object(
      { suppressed: Type.Boolean(), created: Type.Boolean({ description: 'True when the erasure itself added the (hashed) entry.' }) },
      { additionalProperties: false },
    ),
  },
  {
    additionalProperties: false,
    examples: [
      {
        id: 'era_01JD7XWB1S9FQ0M3J8Q1V9Y2KZ',
        object: 'erasure',
        address_hash: 'm1Qn0m2c1bJt0e2nYyQ6wq3mX0Kq5r2D9cVbq1S5w8E',
        state: 'completed',
        at: '2026-11-23T09:00:00.000Z',
        erased: [
          { table: 'events', rows: 4 },
          { table: 'message_bodies', rows: 1 },
          { table: 'recipients', rows: 1 },
        ],
        kept: [],
        suppression: { suppressed: true, created: true },
      },
    ],
  },
);

export function retentionRoutes(app: FastifyInstance, s: ApiServices): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.get(
    '/retention',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['retention'],
        summary: 'Read the retention policy and legal holds',
        description: "The tenant's retention per data class (its own settings or the defaults), any conflicts, and the active legal holds.",
        response: { 200: RetentionJson, ...problems(...AUTHED) },
      },
    },
    async (request) => {
      const tenantId = principalOf(request).tenant.id;
      const { policies, conflicts, classes } = await s.retention.policies(tenantId);
      const holds = await s.retention.holds(tenantId);
      return {
        policies: policies.map((p) => ({ data_class: p.dataClass, max_days: p.maxDays, min_days: p.minDays, custom: p.custom })),
        conflicts: conflicts.map((c) => ({ data_class: c.dataClass, message: c.message })),
        classes: classes.map(classJson),
        holds: holds.map(holdJson),
      };
    },
  );

  r.put(
    '/retention',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['retention'],
        summary: 'Set retention per data class and retention classes',
        description:
          'Sets the data classes and retention classes given (the others keep theirs; retention classes are never removed). A maximum below its minimum, an automatic purge of suppressions, or a retention class named like a data class is refused with 422 naming the field.',
        body: Type.Object(
          {
            classes: Type.Optional(
              Type.Array(
                Type.Object(
                  {
                    name: Type.String({ examples: ['phi-6y'] }),
                    max_days: Days,
                    min_days: Days,
                  },
                  { additionalProperties: false },
                ),
                { maxItems: 50 },
              ),
            ),
            policies: Type.Optional(
              Type.Array(
                Type.Object(
                  {
                    data_class: Type.String({ examples: ['bodies'] }),
                    max_days: Days,
                    min_days: Days,
                  },
                  { additionalProperties: false },
                ),
                { maxItems: 20 },
              ),
            ),
          },
          {
            additionalProperties: false,
            examples: [
              { policies: [{ data_class: 'bodies', max_days: 3, min_days: null }] },
              { classes: [{ name: 'phi-6y', max_days: 2190, min_days: 2190 }] },
            ],
          },
        ),
        response: { 200: RetentionJson, ...problems(...AUTHED, ...JSON_BODY) },
      },
    },
    async (request) => {
      const tenantId = principalOf(request).tenant.id;
      const set = await s.retention.setPolicies(actorOf(request), tenantId, {
        policies: (request.body.policies ?? []).map((p) => ({ dataClass: p.data_class, maxDays: p.max_days, minDays: p.min_days })),
        classes: (request.body.classes ?? []).map((c) => ({ name: c.name, maxDays: c.max_days, minDays: c.min_days })),
      });
      return {
        policies: set.policies.map((p) => ({ data_class: p.dataClass, max_days: p.maxDays, min_days: p.minDays, custom: p.custom })),
        conflicts: [],
        classes: set.classes.map(classJson),
        holds: (await s.retention.holds(tenantId)).map(holdJson),
      };
    },
  );

  r.post(
    '/legal-holds',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['retention'],
        summary: 'Place a legal hold',
        description:
          'Held data survives purges and erasure until the hold is released: the whole tenant, one message (`message_id`), one address (stored only as its keyed hash), or the messages accepted in a time range (`from`, `until`). 404 when the message does not exist.',
        body: Type.Object(
          {
            kind: Kind,
            reason: Type.String({ minLength: 1, maxLength: 500 }),
            message_id: Type.Optional(Type.String()),
            address: Type.Optional(Type.String()),
            from: Type.Optional(Type.String({ format: 'date-time' })),
            until: Type.Optional(Type.String({ format: 'date-time' })),
          },
          { additionalProperties: false, examples: [{ kind: 'address', address: 'ann@example.net', reason: 'Litigation 2026-17' }] },
        ),
        response: { 201: HoldJson, ...problems(...AUTHED, ...JSON_BODY, ...IDEMPOTENT, 404) },
      },
    },
    async (request, reply) => {
      const b = request.body;
      const time = (v: string | undefined, path: string) => {
        if (v === undefined) return undefined;
        const ms = Date.parse(v);
        if (Number.isNaN(ms)) throw validationError([{ path, message: 'must be an RFC 3339 date-time' }]);
        return ms;
      };
      const from = time(b.from, '/body/from');
      const until = time(b.until, '/body/until');
      const hold = await s.retention.placeHold(actorOf(request), principalOf(request).tenant.id, {
        kind: b.kind,
        reason: b.reason,
        ...(b.message_id !== undefined ? { messageId: b.message_id } : {}),
        ...(b.address !== undefined ? { address: b.address } : {}),
        ...(from !== undefined ? { from } : {}),
        ...(until !== undefined ? { until } : {}),
      });
      return reply.code(201).send(holdJson(hold));
    },
  );

  r.delete(
    '/legal-holds/:id',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['retention'],
        summary: 'Release a legal hold',
        description: 'The next purge run may take what it held. 404 when no active hold has this id.',
        params: Type.Object({ id: Type.String({ examples: ['hld_01JD7XWB1S9FQ0M3J8Q1V9Y2KZ'] }) }),
        response: { 200: HoldJson, ...problems(...AUTHED, 404) },
      },
    },
    async (request) => holdJson(await s.retention.releaseHold(actorOf(request), principalOf(request).tenant.id, request.params.id)),
  );

  r.post(
    '/erasures',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['retention'],
        summary: 'Erase an address (GDPR Art. 17)',
        description:
          "Removes or redacts the address across the tenant's messages, recipients, events, captures, feedback reports and stored answers, keeps a suppression under its keyed hash so it is still refused, and answers a receipt of what was erased and kept, per table. A legal hold on the tenant or the address keeps everything (state `held`).",
        body: Type.Object(
          { address: Type.String({ minLength: 3, maxLength: 320 }) },
          { additionalProperties: false, examples: [{ address: 'ann@example.net' }] },
        ),
        response: { 201: ReceiptJson, ...problems(...AUTHED, ...JSON_BODY, ...IDEMPOTENT) },
      },
    },
    async (request, reply) =>
      reply.code(201).send(await s.retention.erase(actorOf(request), principalOf(request).tenant.id, request.body.address)),
  );

  r.get(
    '/erasures/:id',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['retention'],
        summary: 'Read an erasure receipt',
        description: 'The receipt an erasure answered, kept for the record (it holds the keyed hash, never the address). 404 when unknown.',
        params: Type.Object({ id: Type.String({ examples: ['era_01JD7XWB1S9FQ0M3J8Q1V9Y2KZ'] }) }),
        response: { 200: ReceiptJson, ...problems(...AUTHED, 404) },
      },
    },
    async (request) => s.retention.erasure(principalOf(request).tenant.id, request.params.id),
  );
}
