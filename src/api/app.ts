import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { registerAuth } from './plugins/auth.js';
import { registerBodyBudget } from './plugins/body-budget.js';
import { registerIdempotency } from './plugins/idempotency.js';
import { answerClientError, registerProblems } from './plugins/problem.js';
import { domainRoutes } from './routes/domains.js';
import { eventRoutes } from './routes/events.js';
import { feedbackRoutes } from './routes/feedback.js';
import { keyRoutes } from './routes/keys.js';
import { messageRoutes } from './routes/messages.js';
import { postureRoutes } from './routes/posture.js';
import { sandboxRoutes } from './routes/sandbox.js';
import { suppressionRoutes } from './routes/suppressions.js';
import { tenantRoutes } from './routes/tenant.js';
import { transportSecurityRoutes } from './routes/transport-security.js';
import { unsubscribeRoutes } from './routes/unsubscribe.js';
import { webhookRoutes } from './routes/webhooks.js';
import type { ApiServices } from './services.js';

/**
 * The HTTP API: REST under /v1, Bearer keys, problem+json errors, OpenAPI generated from the route
 * schemas at /openapi.json with a browsable copy at /docs.
 */
export async function buildApi(
  s: ApiServices,
  opts: { logger?: Logger | false; https?: { key: string; cert: string } } = {},
): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: opts.logger || undefined,
    // server.tls: the API terminates TLS itself (docs/deploy.md); otherwise plain HTTP behind a proxy.
    ...(opts.https ? { https: opts.https } : {}),
    // A message may be up to maxMessageBytes; base64 attachments inflate by 4/3, JSON adds a little.
    bodyLimit: Math.ceil(s.limits.maxMessageBytes * 1.4) + 65_536,
    // Path parameters longer than Fastify's 100 default: email addresses (up to 254 octets) and
    // signed unsubscribe tokens.
    routerOptions: { maxParamLength: 1024 },
    // Requests Node refuses before routing (headers too large, not HTTP) get problem+json too.
    clientErrorHandler: answerClientError,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: true } },
  }) as unknown as FastifyInstance;

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Postwarden API', version: '1', description: 'Send mail and read its story. Errors are RFC 9457 problem+json.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'API key (pw_…)' } } },
      security: [{ bearer: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  // JSON only: a text/plain body is refused with 415 rather than read as a string.
  app.removeContentTypeParser('text/plain');
  registerProblems(app);
  registerAuth(app, s.tenants);
  if (s.bodyBudget) registerBodyBudget(app, s.bodyBudget);
  registerIdempotency(app, {
    store: s.idempotencyStore,
    clock: s.clock,
    ttlHours: s.limits.idempotencyHours,
    takeoverSeconds: s.limits.idempotencyTakeoverSeconds,
  });

  app.get('/healthz', { schema: { hide: true } }, async (_request, reply) => {
    // Degraded (503, so a load balancer looks elsewhere) while a dependency is out; ok again after.
    const { unreachable } = await s.ready();
    return unreachable.length ? reply.code(503).send({ status: 'degraded', unreachable }) : reply.send({ status: 'ok' });
  });
  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) =>
    reply.type(s.metrics.contentType).send(await s.metrics.text()),
  );
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  app.get(
    '/v1/tenant',
    { config: { scope: 'read' }, schema: { tags: ['tenant'], summary: 'The tenant of the presented key' } },
    async (request) => {
      const t = request.principal!.tenant;
      return { id: t.id, name: t.name, sandbox: t.sandbox, alignment: t.alignmentPolicy, scopes: request.principal!.scopes };
    },
  );

  messageRoutes(app, s);
  eventRoutes(app, s);
  domainRoutes(app, s);
  keyRoutes(app, s);
  sandboxRoutes(app, s);
  postureRoutes(app, s);
  feedbackRoutes(app, s);
  suppressionRoutes(app, s);
  unsubscribeRoutes(app, s);
  tenantRoutes(app, s);
  transportSecurityRoutes(app, s);
  webhookRoutes(app, s);
  return app;
}
