import helmet from '@fastify/helmet';
import type { FastifyInstance } from 'fastify';

/**
 * Security headers on every answer (helmet): HSTS, nosniff, no referrer across origins, COOP, and a
 * content security policy that lets an API answer load nothing at all. Areas that serve pages set
 * their own, stricter-where-it-matters policy after this one and so replace it: the dashboard
 * (web-app.ts: its own origin only), the sandbox preview (sandbox-inbox.ts: `sandbox`, framable by
 * this origin only) and the API docs (/docs: swagger-ui's hashed scripts, openapi.ts). The default
 * allows inline style only for the unsubscribe page a recipient opens.
 *
 * The tracking pixel and link are loaded by mail clients on other sites: they answer
 * Cross-Origin-Resource-Policy cross-origin, every other answer same-origin.
 */
export const apiCsp = {
  defaultSrc: ["'none'"],
  styleSrc: ["'unsafe-inline'"],
  imgSrc: ["'self'", 'data:'],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
  baseUri: ["'none'"],
};

const CROSS_ORIGIN_PATHS = /^\/t\/[oc]\//;

export async function registerSecurityHeaders(app: FastifyInstance): Promise<void> {
  await app.register(helmet, {
    global: true,
    contentSecurityPolicy: { useDefaults: false, directives: apiCsp },
    crossOriginResourcePolicy: { policy: 'same-origin' },
    referrerPolicy: { policy: 'no-referrer' },
  });
  app.addHook('onRequest', async (request, reply) => {
    if (CROSS_ORIGIN_PATHS.test(request.url)) reply.header('cross-origin-resource-policy', 'cross-origin');
  });
}
