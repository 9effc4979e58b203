import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { PostwardenError } from '../../core/index.js';
import { JSON_BODY, problems } from '../contract/problem-schema.js';
import { actorOf } from '../plugins/actor.js';
import { principalOf } from '../plugins/auth.js';
import type { ApiServices } from '../services.js';
import { authErrors } from './engagement-schemas.js';

/**
 * Tracking: the tenant's settings under /v1/tracking, and the two public endpoints mail links to,
 * outside /v1 because they are part of the message, not of the API:
 *
 * - GET /t/o/{token}.gif answers a 1×1 transparent GIF and records `recipient.opened`;
 * - GET /t/c/{token} answers 302 to the signed target and records `recipient.clicked`.
 *
 * The token is the credential (tracking-token.ts): a tampered or unsigned one answers 404 (or 400
 * when it is not a token at all) and never redirects. Routes are wildcards so long URLs fit
 * (Fastify limits a path parameter to maxParamLength).
 */
const StreamList = Type.Array(Type.Union([Type.Literal('transactional'), Type.Literal('marketing'), Type.Literal('cold')]), {
  uniqueItems: true,
});
const Settings = Type.Object(
  {
    domain: Type.String({ maxLength: 253, description: 'Tracking host (CNAME to this node); empty: the node public URL.' }),
    opens_streams: StreamList,
    clicks_streams: StreamList,
  },
  {
    additionalProperties: false,
    examples: [{ domain: 'track.example.com', opens_streams: ['marketing'], clicks_streams: ['marketing', 'cold'] }],
  },
);
const Wildcard = Type.Object({ '*': Type.String({ maxLength: 8192, description: 'The signed token' }) });

// A 1×1 transparent GIF (GIF89a, one transparent colour): 42 bytes.
const PIXEL = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');

const hitOf = (request: FastifyRequest) => ({
  ...(request.headers['user-agent'] ? { userAgent: String(request.headers['user-agent']) } : {}),
  ip: request.ip,
});

/** `app` is the /v1 scope; the public pixel and click links (/t/…) go on `root`, outside it. */
export function trackingRoutes(app: FastifyInstance, s: ApiServices, root: FastifyInstance = app): void {
  const tracking = s.engagement?.tracking;
  if (!tracking) return;
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const pub = root.withTypeProvider<TypeBoxTypeProvider>();

  r.get(
    '/tracking/settings',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['tracking'],
        summary: "The tenant's tracking settings",
        description: 'Tracking is off unless a stream is listed here or a send asks for it (`tracking: {opens, clicks}`).',
        response: { 200: Settings, ...authErrors },
      },
    },
    async (request) => {
      const t = await tracking.settings(principalOf(request).tenant.id);
      return { domain: t.domain, opens_streams: t.opensStreams, clicks_streams: t.clicksStreams };
    },
  );

  r.put(
    '/tracking/settings',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['tracking'],
        summary: "Set the tenant's tracking domain and the streams tracked by default",
        description:
          'The domain must be a CNAME to this node, and the node (or its TLS proxy) must hold a certificate for it (docs/tracking.md).',
        body: Settings,
        response: { 200: Settings, ...problems(...JSON_BODY), ...authErrors },
      },
    },
    async (request) => {
      const b = request.body;
      const t = await tracking.setSettings(
        principalOf(request).tenant.id,
        {
          domain: b.domain,
          opensStreams: b.opens_streams,
          clicksStreams: b.clicks_streams,
        },
        actorOf(request),
      );
      return { domain: t.domain, opens_streams: t.opensStreams, clicks_streams: t.clicksStreams };
    },
  );

  pub.get(
    '/t/o/*',
    {
      schema: {
        hide: true,
        tags: ['tracking'],
        summary: 'Open pixel (public; the token is the credential)',
        params: Wildcard,
        response: { 200: Type.Unsafe<Buffer>({ type: 'string', format: 'binary' }), ...problems(400), ...problems(404) },
      },
    },
    async (request, reply) => {
      const token = request.params['*'].replace(/\.gif$/, '');
      await tracking.open(token, hitOf(request));
      return reply.header('cache-control', 'no-store, private').type('image/gif').send(PIXEL);
    },
  );

  pub.get(
    '/t/c/*',
    {
      schema: {
        hide: true,
        tags: ['tracking'],
        summary: 'Click redirect (public; the token is the credential, and names the only place it redirects to)',
        params: Wildcard,
        response: { 302: Type.Null({ description: 'Location: the signed target' }), ...problems(400), ...problems(404) },
      },
    },
    async (request, reply) => {
      const c = await tracking.click(request.params['*'], hitOf(request));
      if (!/^https?:\/\//i.test(c.url)) throw new PostwardenError('NOT_FOUND', 'This tracking link is not valid.');
      return reply.header('cache-control', 'no-store, private').redirect(c.url, 302);
    },
  );
}
