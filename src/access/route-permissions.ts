import type { Permission } from './permissions.js';

/**
 * The one table of what every /v1 route needs, keyed by method and the route's path pattern as
 * Fastify registers it. The auth plugin (src/api/plugins/auth.ts) enforces it on every request and
 * refuses a /v1 route that is missing here (fail closed); test/access/route-permissions.test.ts fails
 * when a registered route has no entry or an entry has no route, and the permission-matrix test is
 * generated from it.
 *
 * `public`: no credentials (a recipient's unsubscribe link, the event schema). `signed-in`: any key or
 * session, whatever its permissions (who am I, log out).
 */
export type RouteAccess = Permission | 'public' | 'signed-in';

export const routePermissions: Readonly<Record<string, RouteAccess>> = {
  // Messages
  'POST /v1/messages': 'messages:send',
  'POST /v1/messages/batch': 'messages:send',
  'POST /v1/messages/dry-run': 'messages:send',
  'POST /v1/messages/:id/cancel': 'messages:send',
  'PATCH /v1/messages/:id': 'messages:send',
  'GET /v1/messages': 'messages:read',
  'GET /v1/messages/:id': 'messages:read',
  'GET /v1/events': 'messages:read',
  'GET /v1/events/export': 'messages:read',
  'GET /v1/events/schema': 'public',
  // Sandbox captures hold whole messages: reading one is reading a body.
  'GET /v1/sandbox/messages': 'messages:read',
  'GET /v1/sandbox/inbox': 'messages:read',
  'GET /v1/sandbox/messages/:id': 'messages:read-body',
  'GET /v1/sandbox/messages/:id/content': 'messages:read-body',
  'GET /v1/sandbox/messages/:id/attachments/:index': 'messages:read-body',
  'DELETE /v1/sandbox/messages/:id': 'sandbox:write',
  'DELETE /v1/sandbox/messages': 'sandbox:write',
  // Statistics
  'GET /v1/stats/delivery': 'stats:read',
  'GET /v1/stats/tls': 'stats:read',
  'GET /v1/overview': 'stats:read',
  'GET /v1/slo': 'stats:read',
  'GET /v1/providers': 'stats:read',
  'GET /v1/domains/:id/dmarc': 'stats:read',
  'GET /v1/reputation': 'stats:read',
  // The audit log
  'GET /v1/audit': 'audit:read',
  'GET /v1/audit/export': 'audit:read',
  // Delivery pacing per pool × site, and the operator's overrides
  'GET /v1/delivery/health': 'stats:read',
  'POST /v1/delivery/health/:site/pause': 'policies:write',
  'POST /v1/delivery/health/:site/resume': 'policies:write',
  'POST /v1/delivery/health/:site/reset': 'policies:write',
  // Feedback reports over HTTP
  'POST /v1/feedback': 'feedback:write',
  // Domains, DKIM, DNS posture
  'POST /v1/domains': 'domains:write',
  'GET /v1/domains': 'domains:read',
  'GET /v1/domains/:id': 'domains:read',
  'PATCH /v1/domains/:id': 'domains:write',
  'DELETE /v1/domains/:id': 'domains:write',
  'POST /v1/domains/:id/verify': 'domains:write',
  'GET /v1/domains/:id/dkim': 'domains:read',
  'POST /v1/domains/:id/dkim/rotate': 'domains:write',
  'GET /v1/domains/:id/dns-history': 'domains:read',
  'GET /v1/audits': 'domains:read',
  'GET /v1/audits/report': 'domains:read',
  'GET /v1/dns-watch': 'domains:read',
  'POST /v1/dns-watch': 'domains:write',
  'DELETE /v1/dns-watch/:domain': 'domains:write',
  'GET /v1/dns-history': 'domains:read',
  // API keys
  'POST /v1/keys': 'keys:write',
  'GET /v1/keys': 'keys:read',
  'DELETE /v1/keys/:id': 'keys:write',
  // Suppressions
  'GET /v1/suppressions': 'suppressions:read',
  'GET /v1/suppressions/check': 'suppressions:read',
  'GET /v1/suppressions/export': 'suppressions:read',
  'GET /v1/suppressions/history': 'suppressions:read',
  'POST /v1/suppressions': 'suppressions:add',
  'DELETE /v1/suppressions/:address': 'suppressions:write',
  'POST /v1/suppressions/import': 'suppressions:write',
  'GET /v1/unsubscribe/:token': 'public',
  'POST /v1/unsubscribe/:token': 'public',
  // Webhooks
  'POST /v1/webhooks': 'webhooks:write',
  'GET /v1/webhooks': 'webhooks:read',
  'GET /v1/webhooks/:id': 'webhooks:read',
  'PATCH /v1/webhooks/:id': 'webhooks:write',
  'DELETE /v1/webhooks/:id': 'webhooks:write',
  'POST /v1/webhooks/:id/rotate-secret': 'webhooks:write',
  'POST /v1/webhooks/:id/test': 'webhooks:write',
  'GET /v1/webhooks/:id/attempts': 'webhooks:read',
  'POST /v1/webhooks/:id/replay': 'webhooks:write',
  // Policies
  'GET /v1/tenant/tls-policy': 'policies:read',
  'PUT /v1/tenant/tls-policy': 'policies:write',
  'GET /v1/preflight/policy': 'policies:read',
  'PUT /v1/preflight/policy': 'policies:write',
  'GET /v1/suppressions/policy': 'policies:read',
  'PUT /v1/suppressions/policy': 'policies:write',
  'GET /v1/tracking/settings': 'policies:read',
  'PUT /v1/tracking/settings': 'policies:write',
  'GET /v1/posture/settings': 'policies:read',
  'PUT /v1/posture/settings': 'policies:write',
  // Templates (a preview renders what would be sent, as a dry run does)
  'POST /v1/templates': 'templates:write',
  'GET /v1/templates': 'templates:read',
  'GET /v1/templates/:id': 'templates:read',
  'PATCH /v1/templates/:id': 'templates:write',
  'GET /v1/templates/:id/versions/:version': 'templates:read',
  'POST /v1/templates/:id/publish': 'templates:write',
  'POST /v1/templates/:id/rollback': 'templates:write',
  'POST /v1/templates/:id/preview': 'messages:send',
  // Lists and experiments
  'POST /v1/lists': 'lists:write',
  'GET /v1/lists': 'lists:read',
  'GET /v1/lists/:id': 'lists:read',
  'POST /v1/lists/:id/import': 'lists:write',
  'GET /v1/lists/:id/imports/:import_id/findings': 'lists:read',
  'POST /v1/experiments': 'experiments:write',
  'GET /v1/experiments': 'experiments:read',
  'GET /v1/experiments/:id': 'experiments:read',
  'GET /v1/experiments/:id/results': 'experiments:read',
  'POST /v1/experiments/:id/stop': 'experiments:write',
  // The tenant
  'GET /v1/tenant': 'settings:read',
  'PATCH /v1/tenant': 'settings:write',
  // People, roles, sign-in
  'POST /v1/auth/login': 'public',
  'POST /v1/auth/logout': 'signed-in',
  'GET /v1/me': 'signed-in',
  'POST /v1/me/totp': 'signed-in',
  'POST /v1/me/totp/confirm': 'signed-in',
  'GET /v1/users': 'users:read',
  'POST /v1/users': 'users:write',
  'PATCH /v1/users/:id': 'users:write',
  'GET /v1/roles': 'users:read',
  'PUT /v1/roles/:name': 'users:write',
  'DELETE /v1/roles/:name': 'users:write',
  // Single sign-on: the flows are public (the provider's answer is the credential); settings are users'.
  'GET /v1/auth/oidc/start': 'public',
  'GET /v1/auth/oidc/callback': 'public',
  'GET /v1/auth/saml/start': 'public',
  'POST /v1/auth/saml/acs': 'public',
  'GET /v1/tenant/sso': 'users:read',
  'PUT /v1/tenant/sso': 'users:write',
  // Retention, legal holds and erasure (docs/retention.md)
  'GET /v1/retention': 'policies:read',
  'PUT /v1/retention': 'policies:write',
  'POST /v1/legal-holds': 'settings:write',
  'DELETE /v1/legal-holds/:id': 'settings:write',
  'POST /v1/erasures': 'settings:write',
  'GET /v1/erasures/:id': 'settings:read',
  'GET /v1/classification/rules': 'policies:read',
  'PUT /v1/classification/rules': 'policies:write',
  'GET /v1/self-assessment': 'audit:read',
  // Compliance evidence (docs/compliance.md): what an auditor reads, like the audit log.
  'GET /v1/compliance/records-of-processing': 'audit:read',
  // Compliance operations (docs/compliance.md): the third-party register, incidents, trace bundles.
  'GET /v1/third-parties': 'compliance:read',
  'POST /v1/third-parties': 'compliance:write',
  'POST /v1/third-parties/seed': 'compliance:write',
  'GET /v1/third-parties/:id': 'compliance:read',
  'PATCH /v1/third-parties/:id': 'compliance:write',
  'DELETE /v1/third-parties/:id': 'compliance:write',
  'GET /v1/incidents': 'compliance:read',
  'POST /v1/incidents': 'compliance:write',
  'GET /v1/incidents/:id': 'compliance:read',
  'POST /v1/incidents/:id/notes': 'compliance:write',
  'POST /v1/incidents/:id/close': 'compliance:write',
  'POST /v1/incidents/credential-compromise': 'compliance:write',
  'GET /v1/messages/:id/trace': 'compliance:read',
};

/** The table's key for a request: `METHOD /v1/path/:param` (Fastify's route pattern). */
export const routeKey = (method: string, url: string): string => `${method.toUpperCase()} ${url}`;

/** What a route needs; undefined when the table has no entry (the caller fails closed). */
export function accessFor(method: string, url: string): RouteAccess | undefined {
  return Object.hasOwn(routePermissions, routeKey(method, url)) ? routePermissions[routeKey(method, url)] : undefined;
}
