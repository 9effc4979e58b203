import { Readable } from 'node:stream';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { AuditEntryJson, auditEntryJson } from '../../audit/index.js';
import { type FieldError, validationError } from '../../core/index.js';
import { AUTHED, problems } from '../contract/problem-schema.js';
import { actorOf } from '../plugins/actor.js';
import { principalOf } from '../plugins/auth.js';
import type { ApiServices } from '../services.js';
import { Page } from './json.js';

/**
 * GET /v1/audit: the tenant's audit chain in seq order, filtered; GET /v1/audit/export: all of it as
 * NDJSON. Needs `audit:read`.
 */
const Filters = {
  action: Type.Optional(Type.String({ description: 'Only this action, e.g. api_key.created.', examples: ['api_key.created'] })),
  resource: Type.Optional(
    Type.String({ description: 'Only this resource: `type` or `type:id`.', examples: ['domain', 'api_key:key_01JD7XWB1S9F'] }),
  ),
  actor: Type.Optional(
    Type.String({ description: 'Only entries by this actor id (key id, user id, OS user).', examples: ['key_01JD7XW3M2QK'] }),
  ),
  since: Type.Optional(Type.String({ format: 'date-time', description: 'Entries at or after this time.' })),
  until: Type.Optional(Type.String({ format: 'date-time', description: 'Entries before this time.' })),
};

function filtersOf(q: { action?: string; resource?: string; actor?: string; since?: string; until?: string }) {
  const errors: FieldError[] = [];
  const time = (v: string | undefined, path: string) => {
    if (v === undefined) return undefined;
    const ms = Date.parse(v);
    if (Number.isNaN(ms)) errors.push({ path, message: 'must be an RFC 3339 date-time' });
    return ms;
  };
  const since = time(q.since, '/query/since');
  const until = time(q.until, '/query/until');
  if (since !== undefined && until !== undefined && until <= since) errors.push({ path: '/query/until', message: 'must be after since' });
  const [resourceType, ...rest] = q.resource ? q.resource.split(':') : [];
  if (q.resource !== undefined && !resourceType) errors.push({ path: '/query/resource', message: 'must be type or type:id' });
  if (errors.length) throw validationError(errors);
  return {
    ...(q.action ? { action: q.action } : {}),
    ...(resourceType ? { resourceType } : {}),
    ...(rest.length ? { resourceId: rest.join(':') } : {}),
    ...(q.actor ? { actorId: q.actor } : {}),
    ...(since !== undefined ? { since } : {}),
    ...(until !== undefined ? { until } : {}),
  };
}

/** Records a read of message content before it is answered: a read that cannot be recorded fails. */
export async function recordContentRead(s: ApiServices, request: FastifyRequest, id: string, part: string): Promise<void> {
  await s.audit.record({ actor: actorOf(request), action: 'message_content.read', resource: { type: 'capture', id }, after: { part } });
}

const ndjsonExample = `${JSON.stringify((AuditEntryJson as { examples?: unknown[] }).examples?.[0])}\n`;

export function auditRoutes(app: FastifyInstance, s: ApiServices): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.get(
    '/audit',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['audit'],
        summary: 'Page the audit log',
        description:
          "The tenant's audit entries in chain order (seq), each with who, what, when, from where and the hash chain (docs/governance.md). Keep next_cursor and pass it back as `after`.",
        querystring: Type.Object({
          after: Type.Optional(Type.String({ description: 'A next_cursor from a previous page.', examples: ['12'] })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
          ...Filters,
        }),
        response: { 200: Page(AuditEntryJson, 'Pass back as `after`; null when there is nothing more.'), ...problems(...AUTHED, 422) },
      },
    },
    async (request) => {
      const p = principalOf(request);
      const q = request.query;
      if (q.after !== undefined && !/^\d+$/.test(q.after)) {
        throw validationError([{ path: '/query/after', message: 'must be a cursor returned by this API' }]);
      }
      const page = await s.audit.page({
        tenantId: p.tenant.id,
        ...filtersOf(q),
        ...(q.after !== undefined ? { afterSeq: Number(q.after) } : {}),
        limit: q.limit ?? 100,
      });
      return { data: page.data.map(auditEntryJson), next_cursor: page.nextCursor };
    },
  );

  r.get(
    '/audit/export',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['audit'],
        summary: 'Export the audit log as NDJSON (streamed)',
        description: "Every entry of the tenant's chain in seq order, one JSON object per line, the shape of GET /v1/audit's items.",
        response: {
          200: {
            description: 'The export, streamed.',
            content: {
              'application/x-ndjson': { schema: Type.String({ description: 'One audit entry per line.', examples: [ndjsonExample] }) },
            },
          },
          ...problems(401, 403),
        },
      },
    },
    async (request, reply) => {
      const p = principalOf(request);
      const audit = s.audit;
      async function* lines() {
        for await (const e of audit.entries(p.tenant.id)) yield `${JSON.stringify(auditEntryJson(e))}\n`;
      }
      reply
        .header('content-type', 'application/x-ndjson; charset=utf-8')
        .header('content-disposition', `attachment; filename="audit-${new Date(s.clock.now()).toISOString().slice(0, 10)}.ndjson"`)
        .header('cache-control', 'no-store');
      return reply.send(Readable.from(lines(), { objectMode: false }) as unknown as string);
    },
  );
}
