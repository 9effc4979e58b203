import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import helmet, { type HelmetOptions } from 'helmet';

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

const apiHelmet: HelmetOptions = {
  contentSecurityPolicy: { useDefaults: false, directives: apiCsp },
  crossOriginResourcePolicy: { policy: 'same-origin' },
  referrerPolicy: { policy: 'no-referrer' },
};

/**
 * The headers helmet sets for `options`, worked out once. They depend on nothing in the request (no
 * nonces, no directive functions), and @fastify/helmet rebuilt helmet's whole middleware, the CSP
 * string included, for every request: 60–100 µs of the main thread per `POST /v1/messages` in CPU
 * profiles of `bench deliver --open-loop`. helmet's middleware only calls `setHeader` and
 * `removeHeader`, synchronously.
 */
function helmetHeaders(options: HelmetOptions): Readonly<Record<string, string>> {
  const headers: Record<string, string> = {};
  const res = {
    setHeader(name: string, value: string | number | readonly string[]) {
      headers[name.toLowerCase()] = String(value);
    },
    removeHeader(name: string) {
      delete headers[name.toLowerCase()];
    },
  };
  let failure: unknown;
  helmet(options)({} as IncomingMessage, res as unknown as ServerResponse, (e?: unknown) => {
    failure = e;
  });
  if (failure) throw failure;
  return Object.freeze(headers);
}

export async function registerSecurityHeaders(app: FastifyInstance): Promise<void> {
  const api = helmetHeaders(apiHelmet);
  const crossOrigin = helmetHeaders({ ...apiHelmet, crossOriginResourcePolicy: { policy: 'cross-origin' } });
  app.addHook('onRequest', (request, reply, done) => {
    reply.headers(CROSS_ORIGIN_PATHS.test(request.url) ? crossOrigin : api);
    done();
  });
}
