import type { FastifyInstance, RouteOptions } from 'fastify';

/**
 * Retiring an operation within /v1 (docs/api.md, "Compatibility policy"): a route whose config
 * carries `deprecated` keeps working, is marked `deprecated: true` in OpenAPI, and every answer says
 * so in headers a client can watch for:
 * - `Deprecation: @<unix seconds>` (RFC 9745 §2.1), when it was deprecated;
 * - `Sunset: <HTTP-date>` (RFC 8594 §3), when it may stop answering, if that is decided;
 * - `Link: <…>; rel="deprecation"` (RFC 9745 §3), where the changelog says what to use instead.
 */
export interface RouteDeprecation {
  /** When the operation was deprecated (ISO 8601). */
  since: string;
  /** When it may be removed (ISO 8601); at least six months after `since` (docs/api.md). */
  sunset?: string;
  /** A page saying what replaces it, usually docs/api-changelog.md#… */
  link: string;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    deprecated?: RouteDeprecation;
  }
}

export function deprecationHeaders(d: RouteDeprecation): Record<string, string> {
  const since = Date.parse(d.since);
  const sunset = d.sunset === undefined ? undefined : Date.parse(d.sunset);
  if (Number.isNaN(since) || (sunset !== undefined && Number.isNaN(sunset))) {
    throw new Error(`route deprecation dates must be ISO 8601: ${JSON.stringify(d)}`);
  }
  return {
    deprecation: `@${Math.floor(since / 1000)}`,
    ...(sunset !== undefined ? { sunset: new Date(sunset).toUTCString() } : {}),
    link: `<${d.link}>; rel="deprecation"; type="text/html"`,
  };
}

export function registerDeprecation(app: FastifyInstance): void {
  app.addHook('onRoute', (route: RouteOptions) => {
    const d = route.config?.deprecated;
    if (!d) return;
    deprecationHeaders(d); // fails at boot on a bad date, not on the first request
    route.schema = { ...route.schema, deprecated: true } as RouteOptions['schema'];
  });
  app.addHook('onSend', async (request, reply, payload) => {
    const d = request.routeOptions.config?.deprecated;
    if (d) reply.headers(deprecationHeaders(d));
    return payload;
  });
}
