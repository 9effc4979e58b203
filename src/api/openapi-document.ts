import { buildApi } from './app.js';
import type { ApiServices } from './services.js';

/**
 * The OpenAPI document of this build without a platform behind it, for `npm run api:snapshot` and
 * the compatibility test. The routes are registered over services that are never called (building
 * the document runs no handler), so the document is the same on every machine and config.
 */
export async function openApiDocument(): Promise<Record<string, unknown>> {
  const never = new Proxy(
    {},
    {
      get: () => () => {
        throw new Error('the document-only API has no services');
      },
    },
  );
  const services = {
    accept: never,
    tenants: never,
    access: never,
    cookies: { secret: 'openapi-document-only', secure: 'auto' },
    domains: never,
    spine: never,
    posture: never,
    feedback: never,
    suppressions: never,
    unsubscribe: never,
    messageChanges: never,
    webhooks: never,
    templates: never,
    preflight: never,
    health: never,
    // Present, so the tracking, experiment and list routes are registered (and documented) too.
    engagement: never,
    compliance: never,
    clock: { now: () => 0 },
    idempotencyStore: never,
    ready: async () => ({ unreachable: [] }),
    metrics: { contentType: 'text/plain', text: async () => '' },
    limits: {
      syncWaitMs: 30_000,
      batchMax: 500,
      idempotencyHours: 24,
      idempotencyTakeoverSeconds: 60,
      maxMessageBytes: 1_000_000,
      maxFeedbackBytes: 1_000_000,
    },
  } as unknown as ApiServices;
  const app = await buildApi(services, { logger: false });
  try {
    await app.ready();
    return app.swagger() as unknown as Record<string, unknown>;
  } finally {
    await app.close();
  }
}
