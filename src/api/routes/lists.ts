import type { Readable } from 'node:stream';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { ImportSummary } from '../../content/index.js';
import { PostwardenError } from '../../core/index.js';
import type { ImportFindingRow, ListImportRow, ListRow } from '../../store/index.js';
import { exampleOf } from '../contract/examples.js';
import { IDEMPOTENT, JSON_BODY, problems } from '../contract/problem-schema.js';
import { principalOf } from '../plugins/auth.js';
import type { ApiServices } from '../services.js';
import { authErrors } from './engagement-schemas.js';

/**
 * /v1/lists: contact lists and their CSV imports with hygiene findings (docs/lists.md). The import
 * body is streamed into the import (never buffered whole): Content-Type text/csv.
 */
const ListJson = Type.Object(
  { id: Type.String(), name: Type.String(), members: Type.Integer(), created_at: Type.String({ format: 'date-time' }) },
  { examples: [{ id: 'lst_01JEXAMPLE0000000000000000', name: 'Newsletter', members: 1200, created_at: '2026-12-06T10:00:00.000Z' }] },
);
const FindingKind = Type.Union(
  ['malformed', 'duplicate', 'role_account', 'disposable_domain', 'no_mx', 'null_mx', 'trap_pattern', 'suppressed', 'dns_unchecked'].map(
    (k) => Type.Literal(k),
  ),
);
const FindingJson = Type.Object({
  row: Type.Integer({ description: 'Data row number; the header is row 0' }),
  address: Type.String({ description: 'As written in the file' }),
  findings: Type.Array(
    Type.Object({
      kind: FindingKind,
      severity: Type.Union([Type.Literal('error'), Type.Literal('warning')], { description: 'error: the row was not added' }),
      message: Type.String(),
      detail: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    }),
  ),
});
const ImportJson = Type.Object({
  id: Type.String(),
  list_id: Type.String(),
  created_at: Type.String({ format: 'date-time' }),
  rows: Type.Integer(),
  added: Type.Integer(),
  counts: Type.Record(Type.String(), Type.Integer(), { description: 'Rows per finding kind' }),
});
const ImportAnswer = Type.Object(
  {
    import: ImportJson,
    findings: Type.Array(FindingJson, { description: 'The first 100 rows with findings' }),
    next_after_row: Type.Union([Type.Integer(), Type.Null()], { description: 'Page the rest from …/findings?after_row=' }),
  },
  {
    examples: [
      {
        import: {
          id: 'imp_01JEXAMPLE0000000000000000',
          list_id: 'lst_01JEXAMPLE0000000000000000',
          created_at: '2026-12-06T10:00:00.000Z',
          rows: 3,
          added: 2,
          counts: { role_account: 1, null_mx: 1 },
        },
        findings: [
          {
            row: 2,
            address: 'info@example.com',
            findings: [{ kind: 'role_account', severity: 'warning', message: 'info@ is a role account, not a person' }],
          },
          {
            row: 3,
            address: 'ann@nomail.example',
            findings: [
              { kind: 'null_mx', severity: 'error', message: 'nomail.example publishes a Null MX: it accepts no mail (RFC 7505)' },
            ],
          },
        ],
        next_after_row: null,
      },
    ],
  },
);
const Id = Type.Object({ id: Type.String({ maxLength: 64 }) });

const iso = (ms: number) => new Date(ms).toISOString();
const listJson = (l: ListRow, members: number) => ({ id: l.id, name: l.name, members, created_at: iso(l.createdAt) });
const importJson = (i: ListImportRow) => ({
  id: i.id,
  list_id: i.listId,
  created_at: iso(i.createdAt),
  rows: i.rows,
  added: i.added,
  counts: (i.summary.counts ?? {}) as Record<string, number>,
});
const findingJson = (f: ImportFindingRow) => ({ row: f.row, address: f.address, findings: f.findings as never });

/** The text/csv parser hands over the request stream; a body of any other type arrives parsed. */
const isStream = (body: unknown): body is Readable =>
  typeof body === 'object' && body !== null && typeof Reflect.get(body, Symbol.asyncIterator) === 'function';

/** The request body, chunk by chunk, refused past `limit` bytes. */
async function* bounded(body: Readable, limit: number): AsyncGenerator<Buffer> {
  let n = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    n += chunk.length;
    if (n > limit) throw new PostwardenError('MESSAGE_TOO_LARGE', `The CSV is larger than lists.maxImportBytes (${limit} bytes).`);
    yield chunk;
  }
}

export function listRoutes(app: FastifyInstance, s: ApiServices): void {
  const lists = s.engagement?.lists;
  if (!lists) return;
  const tags = ['lists'];
  app.register(async (scoped) => {
    // The CSV stays a stream: the import reads it in batches.
    scoped.addContentTypeParser('text/csv', (_request, payload, done) => done(null, payload));
    const r = scoped.withTypeProvider<TypeBoxTypeProvider>();

    r.post(
      '/lists',
      {
        config: { scope: 'admin' },
        schema: {
          tags,
          summary: 'Create a contact list',
          description: 'An empty list; fill it with CSV imports (…/import), which report a finding per problem row.',
          body: Type.Object(
            { name: Type.String({ minLength: 1, maxLength: 200 }) },
            { additionalProperties: false, examples: [{ name: 'Newsletter' }] },
          ),
          response: { 201: ListJson, ...problems(...JSON_BODY, ...IDEMPOTENT), ...authErrors },
        },
      },
      async (request, reply) => reply.code(201).send(listJson(await lists.create(principalOf(request).tenant.id, request.body.name), 0)),
    );

    r.get(
      '/lists',
      {
        config: { scope: 'read' },
        schema: {
          tags,
          summary: "The tenant's lists",
          description: 'Every contact list of the tenant with its member count.',
          response: { 200: Type.Object({ data: Type.Array(ListJson) }, { examples: [{ data: [exampleOf(ListJson)] }] }), ...authErrors },
        },
      },
      async (request) => {
        const rows = await lists.list(principalOf(request).tenant.id);
        return { data: await Promise.all(rows.map(async (l) => listJson(l, await lists.countMembers(l.id)))) };
      },
    );

    r.get(
      '/lists/:id',
      {
        config: { scope: 'read' },
        schema: {
          tags,
          summary: 'One list',
          description: 'The list with its member count.',
          params: Id,
          response: { 200: ListJson, ...problems(404, 422), ...authErrors },
        },
      },
      async (request) => {
        const l = await lists.get(principalOf(request).tenant.id, request.params.id);
        return listJson(l, await lists.countMembers(l.id));
      },
    );

    r.post(
      '/lists/:id/import',
      {
        config: { scope: 'admin' },
        schema: {
          tags,
          summary: 'Import contacts from CSV (streamed) and report findings per row',
          description:
            'Content-Type: text/csv. The header names the columns; the address column may be called email, Email, Email Address, EMAIL, E-mail… The other columns are kept as member fields. Rows with an error finding are not added.',
          params: Id,
          // The body is a stream (text/csv): its schema documents rather than validates, so no `type`.
          consumes: ['text/csv'],
          body: Type.Unsafe<unknown>({
            description: 'CSV (RFC 4180) with a header line',
            examples: ['Email Address,First Name\r\nann@example.com,Ann\r\n'],
          }),
          // No 409: an Idempotency-Key's body hash is of the stream, so a second request never matches a first still running.
          response: { 200: ImportAnswer, ...problems(400, 404, 413, 415, 422), ...authErrors },
        },
      },
      async (request) => {
        const body = request.body;
        if (!isStream(body)) {
          throw new PostwardenError('UNSUPPORTED_MEDIA_TYPE', 'Send the CSV as the body with Content-Type: text/csv.');
        }
        const out: ImportSummary = await lists.importCsv(
          principalOf(request).tenant.id,
          request.params.id,
          bounded(body, s.limits.maxImportBytes ?? 268_435_456),
        );
        return { import: importJson(out.import), findings: out.findings.map(findingJson), next_after_row: out.nextAfterRow };
      },
    );

    r.get(
      '/lists/:id/imports/:import_id/findings',
      {
        config: { scope: 'read' },
        schema: {
          tags,
          summary: 'Findings of an import, by row',
          description: 'The rows of an import that had findings, in row order; page with `after_row` = the previous `next_after_row`.',
          params: Type.Object({ id: Type.String({ maxLength: 64 }), import_id: Type.String({ maxLength: 64 }) }),
          querystring: Type.Object({
            after_row: Type.Optional(Type.Integer({ minimum: 0, default: 0 })),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
          }),
          response: {
            200: Type.Object(
              {
                import: ImportJson,
                data: Type.Array(FindingJson),
                next_after_row: Type.Union([Type.Integer(), Type.Null()]),
              },
              {
                examples: [
                  {
                    import: (exampleOf(ImportAnswer) as { import: unknown }).import,
                    data: (exampleOf(ImportAnswer) as { findings: unknown }).findings,
                    next_after_row: null,
                  },
                ],
              },
            ),
            ...problems(404, 422),
            ...authErrors,
          },
        },
      },
      async (request) => {
        const tenantId = principalOf(request).tenant.id;
        const imp = await lists.getImport(tenantId, request.params.import_id);
        if (imp.listId !== request.params.id)
          throw new PostwardenError('NOT_FOUND', `No import ${request.params.import_id} of list ${request.params.id}.`);
        const page = await lists.findings(tenantId, imp.id, request.query.after_row ?? 0, request.query.limit ?? 100);
        return { import: importJson(imp), data: page.data.map(findingJson), next_after_row: page.nextAfterRow };
      },
    );
  });
}
