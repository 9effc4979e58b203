import type { FastifyInstance } from 'fastify';

/**
 * Counts every answered /v1 request by status, for the API availability SLI and
 * postwarden_api_requests_total (scrapes, health checks and dashboard files are not the API).
 */
export function registerRequestCounting(app: FastifyInstance, count: (status: number) => void): void {
  app.addHook('onResponse', async (request, reply) => {
    if (request.url.startsWith('/v1/')) count(reply.statusCode);
  });
}
