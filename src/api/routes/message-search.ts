import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { recipientStates, validationError } from '../../core/index.js';
import { AUTHED, problems } from '../contract/problem-schema.js';
import { principalOf } from '../plugins/auth.js';
import type { ApiServices } from '../services.js';
import { MessageJson, messageJson } from './json.js';

/**
 * GET /v1/messages: the tenant's messages, newest first, optionally searched (the dashboard's
 * Messages view). Every filter given must match; without any it is the plain list it always was.
 */
const SearchQuery = Type.Object(
  {
    to: Type.Optional(Type.String({ maxLength: 320, description: 'Part of a recipient address (case-insensitive).' })),
    from: Type.Optional(Type.String({ maxLength: 320, description: 'Part of the From address (case-insensitive).' })),
    tag: Type.Optional(Type.String({ maxLength: 200, description: 'A tag of the message, exactly.' })),
    metadata: Type.Optional(Type.String({ maxLength: 400, description: 'key=value of the metadata, exactly.' })),
    state: Type.Optional(
      Type.Union(
        recipientStates.map((s) => Type.Literal(s)),
        { description: 'Some recipient is in this state.' },
      ),
    ),
    since: Type.Optional(Type.String({ format: 'date-time', description: 'Accepted at or after.' })),
    until: Type.Optional(Type.String({ format: 'date-time', description: 'Accepted before.' })),
    q: Type.Optional(Type.String({ maxLength: 200, description: 'Words that must all appear in the subject (case-insensitive).' })),
    before: Type.Optional(Type.String({ description: 'Cursor: next_before of the previous page.' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
  },
  { examples: [{ to: 'ann@', state: 'deferred', since: '2026-11-23T00:00:00Z', limit: 20 }] },
);
const PageJson = Type.Object(
  {
    data: Type.Array(MessageJson),
    next_before: Type.Union([Type.String(), Type.Null()], { description: 'Pass as before for the next page; null: last page.' }),
  },
  {
    examples: [
      {
        data: [
          {
            id: 'msg_01JD3W2Q0000000000000000',
            from: 'hello@example.com',
            subject: 'Welcome',
            stream: 'transactional',
            size: 812,
            message_id_header: '<msg_01jd3w2q@pw.test>',
            tags: ['welcome'],
            metadata: {},
            source: 'api',
            sandbox: false,
            created_at: '2026-11-23T09:00:00.000Z',
            identity: null,
            template: null,
          },
        ],
        next_before: null,
      },
    ],
  },
);

export function messageSearchRoutes(app: FastifyInstance, s: ApiServices): void {
  app.withTypeProvider<TypeBoxTypeProvider>().get(
    '/messages',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['messages'],
        summary: 'Messages, newest first, optionally searched',
        description: 'Filters by recipient, sender, subject words, tag, metadata, recipient state and time; pages with before/next_before.',
        querystring: SearchQuery,
        response: { 200: PageJson, ...problems(...AUTHED, 422) },
      },
    },
    async (request) => {
      const p = principalOf(request);
      const q = request.query;
      const limit = q.limit ?? 50;
      let metadata: { key: string; value: string } | undefined;
      if (q.metadata !== undefined) {
        const i = q.metadata.indexOf('=');
        if (i < 1) throw validationError([{ path: '/query/metadata', message: 'must be key=value' }]);
        metadata = { key: q.metadata.slice(0, i), value: q.metadata.slice(i + 1) };
      }
      const rows = await s.spine.searchMessages(p.tenant.id, {
        to: q.to,
        from: q.from,
        tag: q.tag,
        metadata,
        state: q.state,
        since: q.since ? Date.parse(q.since) : undefined,
        until: q.until ? Date.parse(q.until) : undefined,
        q: q.q,
        before: q.before,
        limit,
      });
      return { data: rows.map(messageJson), next_before: rows.length === limit ? rows[rows.length - 1]!.id : null };
    },
  );
}
