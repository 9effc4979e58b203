import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Type } from 'typebox';
import { createMessageChanges } from '../../src/accept/index.js';
import { AUTHED, problems } from '../../src/api/contract/problem-schema.js';
import { buildApi, deprecationHeaders } from '../../src/api/index.js';
import { startPlatform } from '../support/platform.js';

/**
 * Retiring an operation within /v1 (docs/api.md): it keeps answering, says so in headers on every
 * answer (RFC 9745 Deprecation, RFC 8594 Sunset, Link rel="deprecation") and in OpenAPI. No route
 * is deprecated today, so a test app adds one beside the real routes.
 */
test('a route marked deprecated answers with Deprecation, Sunset and Link, and is deprecated in OpenAPI', async (t) => {
  const p = await startPlatform(t, { start: false });
  const app = await buildApi(
    {
      accept: p.platform.accept,
      tenants: p.platform.tenants,
      access: p.platform.access,
      cookies: { secret: 'deprecation-test-cookie-secret', secure: 'auto' },
      domains: p.platform.domains,
      spine: p.platform.spine,
      posture: p.platform.posture,
      feedback: p.platform.feedback,
      suppressions: p.platform.suppressions,
      unsubscribe: { verify: () => ({ address: '', domain: '', stream: 'marketing' }), unsubscribe: async () => ({}) } as never,
      clock: { now: () => Date.now() },
      idempotencyStore: p.platform.store,
      ready: async () => ({ unreachable: [] }),
      metrics: { contentType: 'text/plain', text: async () => '' },
      limits: { ...p.config.limits, maxFeedbackBytes: p.config.feedback.maxMessageBytes },
      messageChanges: createMessageChanges({ store: p.platform.store, clock: { now: () => Date.now() } }),
      webhooks: p.platform.webhooks.endpoints,
      // Never called here: only /v1/old-thing is requested (the request counter aside).
      templates: {} as never,
      preflight: {} as never,
      health: { countRequest: () => {} } as never,
      reputation: {} as never,
      audit: {} as never,
      delivery: p.platform.delivery,
      retention: {} as never,
    },
    {
      logger: false,
      checkResponses: true,
      extraPermissions: { 'GET /v1/old-thing': 'settings:read' },
      extraRoutes: (root) =>
        root.get(
          '/v1/old-thing',
          {
            config: {
              scope: 'read',
              deprecated: {
                since: '2026-03-01T00:00:00Z',
                sunset: '2026-09-01T00:00:00Z',
                link: 'https://docs.example/api-changelog#old-thing',
              },
            },
            schema: {
              tags: ['tenant'],
              summary: 'An old thing',
              description: 'Replaced by the new thing.',
              response: { 200: Type.Object({ ok: Type.Boolean() }, { additionalProperties: false }), ...problems(...AUTHED) },
            },
          },
          async () => ({ ok: true }),
        ),
    },
  );
  t.after(() => app.close());
  const res = await app.inject({ method: 'GET', url: '/v1/old-thing', headers: { authorization: `Bearer ${p.key}` } });
  assert.equal(res.statusCode, 200, res.body);
  // RFC 9745 §2.1: an Item Structured Field, a Date (@ + Unix seconds).
  assert.equal(res.headers.deprecation, `@${Date.parse('2026-03-01T00:00:00Z') / 1000}`);
  // RFC 8594 §3: an HTTP-date.
  assert.equal(res.headers.sunset, 'Tue, 01 Sep 2026 00:00:00 GMT');
  assert.equal(res.headers.link, '<https://docs.example/api-changelog#old-thing>; rel="deprecation"; type="text/html"');
  // An error answer of the same route says it too.
  const anonymous = await app.inject({ method: 'GET', url: '/v1/old-thing' });
  assert.equal(anonymous.statusCode, 401);
  assert.equal(anonymous.headers.deprecation, res.headers.deprecation);
  const doc = app.swagger() as { paths: Record<string, Record<string, { deprecated?: boolean }>> };
  assert.equal(doc.paths['/v1/old-thing']!.get!.deprecated, true);
  assert.equal(doc.paths['/v1/tenant']!.get!.deprecated, undefined);
  // A current route carries none of the headers.
  const current = await app.inject({ method: 'GET', url: '/v1/tenant', headers: { authorization: `Bearer ${p.key}` } });
  assert.equal(current.statusCode, 200);
  assert.equal(current.headers.deprecation, undefined);
});

test('a deprecation without a sunset date sends no Sunset; a bad date fails at boot', () => {
  assert.deepEqual(deprecationHeaders({ since: '2026-03-01', link: '/docs/api-changelog.md' }), {
    deprecation: `@${Date.parse('2026-03-01') / 1000}`,
    link: '</docs/api-changelog.md>; rel="deprecation"; type="text/html"',
  });
  assert.throws(() => deprecationHeaders({ since: 'soon', link: '/x' }), /ISO 8601/);
});
