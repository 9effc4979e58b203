import cookie from '@fastify/cookie';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { Type } from 'typebox';
import type { RouteAccess } from '../access/index.js';
import { registerDeprecation } from './contract/deprecation.js';
import { registerOpenApi } from './contract/openapi.js';
import { problems } from './contract/problem-schema.js';
import { createResponseCheck, registerResponseCheck } from './contract/response-check.js';
import { lazySchemaCompilers } from './lazy-compilers.js';
import { actorOf } from './plugins/actor.js';
import { declareThrottleAnswers, registerAuth } from './plugins/auth.js';
import { registerRequestCounting } from './plugins/availability.js';
import { registerBodyBudget } from './plugins/body-budget.js';
import { registerIdempotency } from './plugins/idempotency.js';
import { answerClientError, registerProblems } from './plugins/problem.js';
import { registerSecurityHeaders } from './plugins/security-headers.js';
import { auditRoutes } from './routes/audit.js';
import { authRoutes } from './routes/auth.js';
import { classificationRoutes, selfAssessmentRoutes } from './routes/classification.js';
import { postmarkRoutes } from './routes/compat-postmark.js';
import { resendRoutes } from './routes/compat-resend.js';
import { sesRoutes } from './routes/compat-ses.js';
import { complianceRoutes } from './routes/compliance.js';
import { credentialCompromiseRoutes } from './routes/credential-compromise.js';
import { deliveryHealthRoutes } from './routes/delivery-health.js';
import { domainRoutes } from './routes/domains.js';
import { dryRunRoutes } from './routes/dry-run.js';
import { eventExportRoutes } from './routes/event-export.js';
import { eventSchemaRoutes } from './routes/event-schema.js';
import { eventRoutes } from './routes/events.js';
import { experimentRoutes } from './routes/experiments.js';
import { feedbackRoutes } from './routes/feedback.js';
import { incidentRoutes } from './routes/incidents.js';
import { keyRoutes } from './routes/keys.js';
import { listRoutes } from './routes/lists.js';
import { messageChangeRoutes } from './routes/message-changes.js';
import { messageSearchRoutes } from './routes/message-search.js';
import { messageRoutes } from './routes/messages.js';
import { overviewRoutes } from './routes/overview.js';
import { postureRoutes } from './routes/posture.js';
import { providerRoutes } from './routes/providers.js';
import { reputationRoutes } from './routes/reputation.js';
import { retentionRoutes } from './routes/retention.js';
import { sandboxRoutes } from './routes/sandbox.js';
import { sandboxInboxRoutes } from './routes/sandbox-inbox.js';
import { sloRoutes } from './routes/slo.js';
import { ssoRoutes } from './routes/sso.js';
import { suppressionRoutes } from './routes/suppressions.js';
import { templateRoutes } from './routes/templates.js';
import { tenantRoutes } from './routes/tenant.js';
import { thirdPartyRoutes } from './routes/third-parties.js';
import { trackingRoutes } from './routes/tracking.js';
import { transportSecurityRoutes } from './routes/transport-security.js';
import { unsubscribeRoutes } from './routes/unsubscribe.js';
import { userRoutes } from './routes/users.js';
import { webhookRoutes } from './routes/webhooks.js';
import type { ApiServices } from './services.js';
import { registerWebApp } from './web-app.js';

/**
 * The HTTP API: REST under /v1, Bearer keys, problem+json errors, OpenAPI generated from the route
 * schemas at /openapi.json with a browsable copy at /docs. docs/api.md says how a route is written.
 */
export interface ApiOptions {
  logger?: Logger | false;
  https?: { key: string; cert: string };
  /** Check every answer against its route's contract (server.checkResponses; on in tests): app.responseCheck. */
  checkResponses?: boolean;
  /** Routes registered beside /v1 (tests of the plugins: a deprecated route, …). */
  extraRoutes?: (app: FastifyInstance) => void;
  /** What those routes need, when under /v1 (src/access/route-permissions.ts holds the real ones). */
  extraPermissions?: Readonly<Record<string, RouteAccess>>;
}

export async function buildApi(s: ApiServices, opts: ApiOptions = {}): Promise<FastifyInstance> {
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
    schemaController: { compilersFactory: lazySchemaCompilers },
  }) as unknown as FastifyInstance;

  // Hooks that watch routes being added come first, so they see every route.
  declareThrottleAnswers(app);
  if (opts.checkResponses) {
    const check = createResponseCheck();
    app.decorate('responseCheck', check);
    registerResponseCheck(app, check);
  }
  registerDeprecation(app);
  await registerOpenApi(app);

  // JSON only: a text/plain body is refused with 415 rather than read as a string.
  app.removeContentTypeParser('text/plain');
  registerProblems(app);
  await app.register(cookie, { secret: s.cookies.secret });
  await registerSecurityHeaders(app);
  registerAuth(app, {
    tenants: s.tenants,
    access: s.access,
    ...(s.authFailed ? { authFailed: s.authFailed } : {}),
    ...(opts.extraPermissions ? { extraPermissions: opts.extraPermissions } : {}),
    residency: {
      region: s.region ?? '',
      refused: async (request, tenantRegion) =>
        s.residencyRefused?.(actorOf(request), tenantRegion, { method: request.method, route: request.routeOptions.url ?? null }),
    },
  });
  registerRequestCounting(app, s.health.countRequest);
  if (s.bodyBudget) registerBodyBudget(app, s.bodyBudget);
  registerIdempotency(app, {
    store: s.idempotencyStore,
    clock: s.clock,
    ttlHours: s.limits.idempotencyHours,
    takeoverSeconds: s.limits.idempotencyTakeoverSeconds,
  });

  const root = app.withTypeProvider<TypeBoxTypeProvider>();
  root.get(
    '/healthz',
    {
      schema: {
        hide: true,
        response: {
          200: Type.Object({ status: Type.Literal('ok') }),
          503: Type.Object({ status: Type.Literal('degraded'), unreachable: Type.Array(Type.String()) }),
          ...problems(500),
        },
      },
    },
    async (_request, reply) => {
      // Degraded (503, so a load balancer looks elsewhere) while a dependency is out; ok again after.
      const { unreachable } = await s.ready();
      return unreachable.length
        ? reply.code(503).send({ status: 'degraded' as const, unreachable })
        : reply.code(200).send({ status: 'ok' as const });
    },
  );
  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) =>
    reply.type(s.metrics.contentType).send(await s.metrics.text()),
  );
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  // Every versioned route, registered once under its prefix; route files name paths without it.
  await app.register(
    async (v1) => {
      messageRoutes(v1, s);
      eventRoutes(v1, s);
      domainRoutes(v1, s);
      keyRoutes(v1, s);
      sandboxRoutes(v1, s);
      postureRoutes(v1, s);
      feedbackRoutes(v1, s);
      suppressionRoutes(v1, s);
      unsubscribeRoutes(v1, s);
      tenantRoutes(v1, s);
      transportSecurityRoutes(v1, s);
      eventSchemaRoutes(v1);
      eventExportRoutes(v1, s);
      auditRoutes(v1, s);
      messageChangeRoutes(v1, s);
      webhookRoutes(v1, s);
      templateRoutes(v1, s);
      dryRunRoutes(v1, s);
      trackingRoutes(v1, s, app);
      experimentRoutes(v1, s);
      listRoutes(v1, s);
      messageSearchRoutes(v1, s);
      sandboxInboxRoutes(v1, s, app);
      overviewRoutes(v1, s);
      providerRoutes(v1, s);
      reputationRoutes(v1, s);
      sloRoutes(v1, s);
      deliveryHealthRoutes(v1, s);
      authRoutes(v1, s);
      userRoutes(v1, s);
      ssoRoutes(v1, s);
      retentionRoutes(v1, s);
      classificationRoutes(v1, s);
      selfAssessmentRoutes(v1, s);
      complianceRoutes(v1, s);
      thirdPartyRoutes(v1, s);
      incidentRoutes(v1, s);
      credentialCompromiseRoutes(v1, s);
    },
    { prefix: '/v1' },
  );
  // Drop-in endpoints of other providers' send APIs: their own paths, outside /v1.
  postmarkRoutes(app, s);
  resendRoutes(app, s);
  sesRoutes(app, s);
  if (s.webApp?.enabled !== false) registerWebApp(app, { dir: s.webApp?.dir ?? '' });
  opts.extraRoutes?.(app);
  return app;
}
