import type { FastifyInstance } from 'fastify';

/** Counts every answered request by status (API availability SLI and postwarden_api_requests_total). */
export function registerRequestCounting(app: FastifyInstance, count: (status: number) => void): void {
  app.addHook('onResponse', async (_request, reply) => {
    count(reply.statusCode);
  });
}
