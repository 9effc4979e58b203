import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { streams, suppressionReasons, suppressionScopes, validationError } from '../../core/index.js';
import {
  importFormats,
  readSuppressionImport,
  SuppressionChangeJson,
  SuppressionJson,
  suppressionChangeJson,
  suppressionJson,
  suppressionsToCsv,
} from '../../feedback/index.js';
import { AUTHED, IDEMPOTENT, JSON_BODY, problems } from '../contract/problem-schema.js';
import { actorOf } from '../plugins/actor.js';
import { principalOf } from '../plugins/auth.js';
import type { ApiServices } from '../services.js';
import { Page } from './json.js';

/**
 * /v1/suppressions: the tenant's own list (tenant and identity scopes). Global entries are the
 * operator's (CLI); they still show in `check` and in send answers, because they stop mail.
 */
const ScopeQ = Type.Optional(Type.Enum(suppressionScopes, { type: 'string' }));
const StreamQ = Type.Optional(Type.Enum(streams, { type: 'string' }));
const entryExample = { address: 'gone@example.org', reason: 'manual', source: 'support ticket 4411' };
const Entry = Type.Object(
  {
    address: Type.String({ minLength: 1 }),
    scope: Type.Optional(
      Type.Enum(suppressionScopes, {
        type: 'string',
        description: 'tenant (default), or identity with domain and stream; global is the operator’s.',
      }),
    ),
    domain: Type.Optional(Type.Union([Type.String(), Type.Null()], { description: 'identity scope: the sending domain.' })),
    stream: Type.Optional(
      Type.Union([Type.Enum(streams, { type: 'string' }), Type.Null()], { description: 'identity scope: the stream.' }),
    ),
    reason: Type.Optional(Type.Enum(suppressionReasons, { type: 'string', description: 'Default: manual.' })),
    source: Type.Optional(Type.String({ maxLength: 500 })),
  },
  { additionalProperties: false, examples: [entryExample] },
);
const addedExample = {
  id: 'sup_01JD7Y0C3W2E',
  address: 'gone@example.org',
  scope: 'tenant',
  domain: null,
  stream: null,
  reason: 'manual',
  source: 'support ticket 4411',
  created_at: '2026-01-05T11:00:00.000Z',
  created: true,
};
const Added = Type.Object(
  {
    ...SuppressionJson.properties,
    created: Type.Boolean({ description: 'False when the address was already suppressed (its first entry is kept).' }),
  },
  { additionalProperties: false, examples: [addedExample] },
);
const ImportResult = Type.Object(
  {
    batch: Type.String({ description: 'The import batch id, the `source` of the entries it added.' }),
    dry_run: Type.Boolean(),
    rows: Type.Integer({ description: 'Rows read.' }),
    added: Type.Integer({ description: 'Entries added (or that would be, in a dry run).' }),
    existing: Type.Integer({ description: 'Rows whose address was already suppressed.' }),
  },
  { additionalProperties: false, examples: [{ batch: 'imp_01JD7Y6Q2W', dry_run: false, rows: 3, added: 2, existing: 1 }] },
);
/** Loose on purpose: the suppression list checks each row itself and names the bad ones by path. */
const ImportEntry = Type.Object({
  ...Type.Partial(Entry).properties,
  created_at: Type.Optional(Type.String({ format: 'date-time', description: 'Kept when given (an export read back).' })),
  id: Type.Optional(Type.String({ description: 'Kept when given (an export read back).' })),
});
// Our own JSON ({entries} or a list), or another provider's export as it is (format=postmark|resend|ses):
// readSuppressionImport checks each shape and names every bad row by its path.
const ImportJson = Type.Union(
  [
    Type.Object({ entries: Type.Array(ImportEntry) }),
    Type.Array(ImportEntry),
    Type.Object({}, { additionalProperties: true, description: "Another provider's suppression export (docs/migrating.md)." }),
    Type.Array(Type.Unknown(), { description: "Another provider's suppression export as a list." }),
  ],
  { examples: [{ entries: [{ address: 'gone@example.org', reason: 'hard_bounce', source: 'old ESP export' }] }] },
);
const csvExample = 'address,reason,source\ngone@example.org,hard_bounce,old ESP export\n';
const ExportJson = Type.Object(
  { version: Type.Literal(1), entries: Type.Array(SuppressionJson) },
  { additionalProperties: false, examples: [{ version: 1, entries: [] }] },
);
const Policy = Type.Object(
  { hard_bounce: Type.Optional(Type.Boolean()), complaint: Type.Optional(Type.Boolean()) },
  { additionalProperties: false },
);
const PolicyJson = Type.Object(
  { suppress_on: Type.Object({ hard_bounce: Type.Boolean(), complaint: Type.Boolean() }, { additionalProperties: false }) },
  { additionalProperties: false, examples: [{ suppress_on: { hard_bounce: true, complaint: true } }] },
);
const policyJson = (x: { hardBounce: boolean; complaint: boolean }) => ({
  suppress_on: { hard_bounce: x.hardBounce, complaint: x.complaint },
});

export function suppressionRoutes(app: FastifyInstance, s: ApiServices): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  // CSV imports arrive as text; the rest of the API stays JSON-only.
  r.register(async (scoped) => {
    scoped.addContentTypeParser(['text/csv'], { parseAs: 'string' }, (_req, body, done) => done(null, body));
    scoped.withTypeProvider<TypeBoxTypeProvider>().post(
      '/suppressions/import',
      {
        config: { scope: 'admin' },
        schema: {
          tags: ['suppressions'],
          summary: 'Import a suppression list',
          description:
            'A CSV with a header line (columns address, scope, domain, stream, reason, source, created_at, id; address required) as text/csv, ' +
            'or JSON {entries:[…]}. All rows or none: one bad row refuses the import, naming it (/rows/<n> or /entries/<i>). dry_run=true only reports.',
          querystring: Type.Object({
            format: Type.Optional(
              Type.Enum(importFormats, {
                type: 'string',
                description:
                  "csv/json: our export (default: from the Content-Type); postmark, resend, ses: that provider's suppression export (CSV or JSON), see docs/migrating.md.",
              }),
            ),
            dry_run: Type.Optional(Type.Boolean({ default: false })),
          }),
          body: Type.Unsafe<unknown>({
            content: {
              'text/csv': { schema: Type.String({ examples: [csvExample] }) },
              'application/json': { schema: ImportJson },
            },
          }),
          response: { 200: ImportResult, ...problems(...AUTHED, ...JSON_BODY, ...IDEMPOTENT) },
        },
      },
      async (request) => {
        const p = principalOf(request);
        const q = request.query;
        const format = q.format ?? (String(request.headers['content-type'] ?? '').startsWith('text/csv') ? 'csv' : 'json');
        const { entries, errors, pathOf } = readSuppressionImport(request.body, format);
        if (errors.length) throw validationError(errors);
        const result = await s.suppressions.import(p.tenant.id, entries, {
          dryRun: q.dry_run ?? false,
          actor: p.keyId,
          pathOf,
          who: actorOf(request),
        });
        return { batch: result.batch, dry_run: result.dryRun, rows: result.rows, added: result.added, existing: result.existing };
      },
    );
  });

  r.get(
    '/suppressions',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['suppressions'],
        summary: 'List suppressions',
        description: 'The list, oldest first, optionally filtered; pass next_cursor back as `after`.',
        querystring: Type.Object({
          address: Type.Optional(Type.String()),
          reason: Type.Optional(Type.Enum(suppressionReasons, { type: 'string' })),
          scope: ScopeQ,
          after: Type.Optional(Type.String({ description: 'next_cursor of the previous page' })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
        }),
        response: { 200: Page(SuppressionJson, 'Pass back as `after`; null on the last page.'), ...problems(...AUTHED, 422) },
      },
    },
    async (request) => {
      const p = principalOf(request);
      const page = await s.suppressions.list(p.tenant.id, { ...request.query, limit: request.query.limit ?? 100 });
      return { data: page.data.map(suppressionJson), next_cursor: page.nextCursor };
    },
  );

  r.post(
    '/suppressions',
    {
      config: { scope: 'send' },
      schema: {
        tags: ['suppressions'],
        summary: 'Suppress addresses',
        description:
          'One entry, or many as {entries:[…]} (up to 1,000). 201 when at least one entry was added, 200 when every address was already suppressed (its first entry is kept).',
        body: Type.Union(
          [
            Entry,
            Type.Object(
              { entries: Type.Array(Entry, { minItems: 1, maxItems: 1000 }) },
              { additionalProperties: false, examples: [{ entries: [entryExample, { address: 'old@example.org' }] }] },
            ),
          ],
          { examples: [entryExample, { entries: [entryExample, { address: 'old@example.org' }] }] },
        ),
        response: {
          200: Type.Union([Added, Type.Object({ data: Type.Array(Added) }, { additionalProperties: false })], {
            description: 'Nothing new: every address was already suppressed.',
            examples: [{ ...addedExample, created: false }],
          }),
          201: Type.Union([Added, Type.Object({ data: Type.Array(Added) }, { additionalProperties: false })], {
            description: 'At least one entry was added: the entry, or {data} for {entries}.',
            examples: [addedExample, { data: [addedExample] }],
          }),
          ...problems(...AUTHED, ...JSON_BODY, ...IDEMPOTENT),
        },
      },
    },
    async (request, reply) => {
      const p = principalOf(request);
      const body = request.body;
      const many = 'entries' in body;
      const out = await s.suppressions.add(p.tenant.id, 'entries' in body ? body.entries : [body], p.keyId, actorOf(request));
      const data = out.map((x) => ({ ...suppressionJson(x.entry), created: x.created }));
      const answer = many ? { data } : data[0]!;
      return out.some((x) => x.created) ? reply.code(201).send(answer) : reply.code(200).send(answer);
    },
  );

  r.delete(
    '/suppressions/:address',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['suppressions'],
        summary: 'Stop suppressing an address',
        description: 'Removes its entries at every scope, or only the one named; recorded in the history. 404 when nothing matched.',
        params: Type.Object({ address: Type.String({ examples: ['gone@example.org'] }) }),
        querystring: Type.Object({ scope: ScopeQ, domain: Type.Optional(Type.String()), stream: StreamQ }),
        response: {
          200: Type.Object({ removed: Type.Array(SuppressionJson) }, { additionalProperties: false, examples: [{ removed: [] }] }),
          ...problems(...AUTHED, 404, 422),
        },
      },
    },
    async (request) => {
      const p = principalOf(request);
      const removed = await s.suppressions.unsuppress(p.tenant.id, request.params.address, request.query, p.keyId, actorOf(request));
      return { removed: removed.map(suppressionJson) };
    },
  );

  r.get(
    '/suppressions/check',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['suppressions'],
        summary: 'Check an address',
        description: 'Would mail to this address be suppressed (optionally: from this domain on this stream), and by which entries.',
        querystring: Type.Object({
          address: Type.String({ minLength: 1, examples: ['gone@example.org'] }),
          domain: Type.Optional(Type.String({ description: 'With stream: the sending domain.' })),
          stream: StreamQ,
        }),
        response: {
          200: Type.Object(
            { address: Type.String(), suppressed: Type.Boolean(), entries: Type.Array(SuppressionJson) },
            { additionalProperties: false, examples: [{ address: 'gone@example.org', suppressed: false, entries: [] }] },
          ),
          ...problems(...AUTHED, 422),
        },
      },
    },
    async (request) => {
      const p = principalOf(request);
      const q = request.query;
      if ((q.domain === undefined) !== (q.stream === undefined)) {
        throw validationError([{ path: q.domain ? '/query/stream' : '/query/domain', message: 'give domain and stream together' }]);
      }
      const msg = q.domain && q.stream ? { fromDomain: q.domain, stream: q.stream } : undefined;
      const entries = await s.suppressions.check(p.tenant.id, q.address, msg);
      return { address: q.address.toLowerCase(), suppressed: entries.length > 0, entries: entries.map(suppressionJson) };
    },
  );

  r.get(
    '/suppressions/export',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['suppressions'],
        summary: 'Export the list',
        description: 'The whole list as JSON or CSV, in the format POST /v1/suppressions/import reads back unchanged.',
        querystring: Type.Object({ format: Type.Optional(Type.Enum(['csv', 'json'], { type: 'string', default: 'json' })) }),
        response: {
          200: Type.Unsafe<unknown>({
            description: 'The list.',
            content: {
              'application/json': { schema: ExportJson },
              'text/csv': { schema: Type.String({ examples: [csvExample] }) },
            },
          }),
          ...problems(...AUTHED, 422),
        },
      },
    },
    async (request, reply) => {
      const p = principalOf(request);
      const rows = await s.suppressions.export(p.tenant.id);
      if (request.query.format === 'csv') return reply.type('text/csv; charset=utf-8').send(suppressionsToCsv(rows));
      return reply.type('application/json').send({ version: 1, entries: rows.map(suppressionJson) });
    },
  );

  r.get(
    '/suppressions/history',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['suppressions'],
        summary: 'History of the list',
        description: 'Every change (add, repeat, remove, import): who made it, the entry before and after.',
        querystring: Type.Object({
          address: Type.Optional(Type.String()),
          after: Type.Optional(Type.String({ description: 'next_cursor of the previous page' })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
        }),
        response: { 200: Page(SuppressionChangeJson, 'Pass back as `after`; null on the last page.'), ...problems(...AUTHED, 422) },
      },
    },
    async (request) => {
      const p = principalOf(request);
      const page = await s.suppressions.history(p.tenant.id, { ...request.query, limit: request.query.limit ?? 100 });
      return { data: page.data.map(suppressionChangeJson), next_cursor: page.nextCursor };
    },
  );

  r.get(
    '/suppressions/policy',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['suppressions'],
        summary: 'Automatic suppression policy',
        description: 'Which feedback suppresses an address automatically: hard bounces, complaints.',
        response: { 200: PolicyJson, ...problems(...AUTHED) },
      },
    },
    async (request) => policyJson(await s.suppressions.policy(principalOf(request).tenant.id)),
  );
  r.put(
    '/suppressions/policy',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['suppressions'],
        summary: 'Set the automatic suppression policy',
        description:
          'Turn automatic suppression on hard bounces and on complaints on or off (both on by default); an absent field keeps its value.',
        body: Type.Object({ suppress_on: Policy }, { additionalProperties: false, examples: [{ suppress_on: { complaint: false } }] }),
        response: { 200: PolicyJson, ...problems(...AUTHED, ...JSON_BODY) },
      },
    },
    async (request) => {
      const b = request.body.suppress_on;
      const patch = {
        ...(b.hard_bounce !== undefined ? { hardBounce: b.hard_bounce } : {}),
        ...(b.complaint !== undefined ? { complaint: b.complaint } : {}),
      };
      return policyJson(await s.suppressions.setPolicy(principalOf(request).tenant.id, patch, actorOf(request)));
    },
  );
}
