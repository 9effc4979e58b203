import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { type Stream, type SuppressionScope, streams, suppressionReasons, suppressionScopes, validationError } from '../../core/index.js';
import {
  type EntryInput,
  type ImportFormat,
  importFormats,
  readSuppressionImport,
  suppressionChangeJson,
  suppressionJson,
  suppressionsToCsv,
} from '../../feedback/index.js';
import { principalOf } from '../plugins/auth.js';
import type { ApiServices } from '../services.js';

/**
 * /v1/suppressions: the tenant's own list (tenant and identity scopes). Global entries are the
 * operator's (CLI); they still show in `check` and in send answers, because they stop mail.
 */
const ScopeQ = Type.Optional(Type.Union(suppressionScopes.map((s) => Type.Literal(s))));
const StreamQ = Type.Optional(Type.Union(streams.map((s) => Type.Literal(s))));
const Entry = Type.Object(
  {
    address: Type.String({ minLength: 1 }),
    scope: ScopeQ,
    domain: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    stream: Type.Optional(Type.Union([...streams.map((s) => Type.Literal(s)), Type.Null()])),
    reason: Type.Optional(Type.Union(suppressionReasons.map((s) => Type.Literal(s)))),
    source: Type.Optional(Type.String({ maxLength: 500 })),
  },
  { additionalProperties: false },
);

export function suppressionRoutes(app: FastifyInstance, s: ApiServices): void {
  // CSV imports arrive as text; the rest of the API stays JSON-only.
  app.register(async (scoped) => {
    scoped.addContentTypeParser(['text/csv'], { parseAs: 'string' }, (_req, body, done) => done(null, body));
    scoped.post(
      '/v1/suppressions/import',
      {
        config: { scope: 'admin' },
        schema: {
          tags: ['suppressions'],
          summary: 'Import a list (CSV with a header line, or JSON {entries:[…]}); all rows or none; dry_run=true only reports',
          querystring: Type.Object({
            format: Type.Optional(
              Type.Union(
                importFormats.map((f) => Type.Literal(f)),
                {
                  description:
                    "csv/json: our export; postmark, resend, ses: that provider's suppression export (CSV or JSON), see docs/migrating.md",
                },
              ),
            ),
            dry_run: Type.Optional(Type.Boolean({ default: false })),
          }),
        },
      },
      async (request) => {
        const p = principalOf(request);
        const q = request.query as { format?: ImportFormat; dry_run: boolean };
        const format = q.format ?? (String(request.headers['content-type'] ?? '').startsWith('text/csv') ? 'csv' : 'json');
        const { entries, errors, pathOf } = readSuppressionImport(request.body, format);
        if (errors.length) throw validationError(errors);
        const r = await s.suppressions.import(p.tenant.id, entries, { dryRun: q.dry_run, actor: p.keyId, pathOf });
        return { batch: r.batch, dry_run: r.dryRun, rows: r.rows, added: r.added, existing: r.existing };
      },
    );
  });

  app.get(
    '/v1/suppressions',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['suppressions'],
        summary: 'Page the suppression list, oldest first',
        querystring: Type.Object({
          address: Type.Optional(Type.String()),
          reason: Type.Optional(Type.Union(suppressionReasons.map((r) => Type.Literal(r)))),
          scope: ScopeQ,
          after: Type.Optional(Type.String({ description: 'next_cursor of the previous page' })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
        }),
      },
    },
    async (request) => {
      const p = principalOf(request);
      const q = request.query as { address?: string; reason?: string; scope?: SuppressionScope; after?: string; limit: number };
      const page = await s.suppressions.list(p.tenant.id, q);
      return { data: page.data.map(suppressionJson), next_cursor: page.nextCursor };
    },
  );

  app.post(
    '/v1/suppressions',
    {
      config: { scope: 'send' },
      schema: {
        tags: ['suppressions'],
        summary: 'Suppress one address, or many ({entries:[…]}); an address already suppressed keeps its first entry',
        body: Type.Union([
          Entry,
          Type.Object({ entries: Type.Array(Entry, { minItems: 1, maxItems: 1000 }) }, { additionalProperties: false }),
        ]),
      },
    },
    async (request, reply) => {
      const p = principalOf(request);
      const body = request.body as EntryInput | { entries: EntryInput[] };
      const many = 'entries' in body;
      const list = many ? (body as { entries: EntryInput[] }).entries : [body as EntryInput];
      const out = await s.suppressions.add(p.tenant.id, list, p.keyId);
      const data = out.map((r) => ({ ...suppressionJson(r.entry), created: r.created }));
      return reply.code(out.some((r) => r.created) ? 201 : 200).send(many ? { data } : data[0]);
    },
  );

  app.delete(
    '/v1/suppressions/:address',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['suppressions'],
        summary: 'Stop suppressing an address: every scope, or only the one named (recorded in the history)',
        params: Type.Object({ address: Type.String() }),
        querystring: Type.Object({ scope: ScopeQ, domain: Type.Optional(Type.String()), stream: StreamQ }),
      },
    },
    async (request) => {
      const p = principalOf(request);
      const { address } = request.params as { address: string };
      const q = request.query as { scope?: SuppressionScope; domain?: string; stream?: Stream };
      const removed = await s.suppressions.unsuppress(p.tenant.id, address, q, p.keyId);
      return { removed: removed.map(suppressionJson) };
    },
  );

  app.get(
    '/v1/suppressions/check',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['suppressions'],
        summary: 'Would mail to this address be suppressed (optionally: from this domain on this stream), and why',
        querystring: Type.Object({ address: Type.String({ minLength: 1 }), domain: Type.Optional(Type.String()), stream: StreamQ }),
      },
    },
    async (request) => {
      const p = principalOf(request);
      const q = request.query as { address: string; domain?: string; stream?: Stream };
      const msg = q.domain && q.stream ? { fromDomain: q.domain, stream: q.stream } : undefined;
      if ((q.domain === undefined) !== (q.stream === undefined)) {
        throw validationError([{ path: q.domain ? '/query/stream' : '/query/domain', message: 'give domain and stream together' }]);
      }
      const entries = await s.suppressions.check(p.tenant.id, q.address, msg);
      return { address: q.address.toLowerCase(), suppressed: entries.length > 0, entries: entries.map(suppressionJson) };
    },
  );

  app.get(
    '/v1/suppressions/export',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['suppressions'],
        summary: 'The whole list, for POST /v1/suppressions/import',
        querystring: Type.Object({ format: Type.Optional(Type.Union([Type.Literal('csv'), Type.Literal('json')], { default: 'json' })) }),
      },
    },
    async (request, reply) => {
      const p = principalOf(request);
      const { format } = request.query as { format: 'csv' | 'json' };
      const rows = await s.suppressions.export(p.tenant.id);
      if (format === 'csv') return reply.type('text/csv; charset=utf-8').send(suppressionsToCsv(rows));
      return { version: 1, entries: rows.map(suppressionJson) };
    },
  );

  app.get(
    '/v1/suppressions/history',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['suppressions'],
        summary: 'Every change to the list (add, repeat, remove, import), who made it, before and after',
        querystring: Type.Object({
          address: Type.Optional(Type.String()),
          after: Type.Optional(Type.String()),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
        }),
      },
    },
    async (request) => {
      const p = principalOf(request);
      const page = await s.suppressions.history(p.tenant.id, request.query as { address?: string; after?: string; limit: number });
      return { data: page.data.map(suppressionChangeJson), next_cursor: page.nextCursor };
    },
  );

  const Policy = Type.Object(
    { hard_bounce: Type.Optional(Type.Boolean()), complaint: Type.Optional(Type.Boolean()) },
    { additionalProperties: false },
  );
  const policyJson = (x: { hardBounce: boolean; complaint: boolean }) => ({
    suppress_on: { hard_bounce: x.hardBounce, complaint: x.complaint },
  });
  app.get(
    '/v1/suppressions/policy',
    { config: { scope: 'read' }, schema: { tags: ['suppressions'], summary: 'Which feedback suppresses automatically' } },
    async (request) => policyJson(await s.suppressions.policy(principalOf(request).tenant.id)),
  );
  app.put(
    '/v1/suppressions/policy',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['suppressions'],
        summary: 'Turn automatic suppression on hard bounces and complaints on or off (both on by default)',
        body: Type.Object({ suppress_on: Policy }, { additionalProperties: false }),
      },
    },
    async (request) => {
      const b = (request.body as { suppress_on: { hard_bounce?: boolean; complaint?: boolean } }).suppress_on;
      const patch = {
        ...(b.hard_bounce !== undefined ? { hardBounce: b.hard_bounce } : {}),
        ...(b.complaint !== undefined ? { complaint: b.complaint } : {}),
      };
      return policyJson(await s.suppressions.setPolicy(principalOf(request).tenant.id, patch));
    },
  );
}
