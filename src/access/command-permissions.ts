import type { Permission } from './permissions.js';

/**
 * The one table of what every `postwarden` command needs, keyed by its path in the command tree
 * (`keys create`). The CLI enforces it before a command runs (src/cli/command-access.ts) and refuses
 * a command that is missing here (fail closed); test/cli/command-permissions.test.ts walks the
 * commander tree, fails when a command has no row or a row has no command, and runs every command ×
 * every built-in role from it. route-permissions.ts is the same table for /v1 routes.
 *
 * - `store`: the command works on the store directly. The host operator holds every permission (it
 *   can read the data directory and the master key, so it owns the installation); run `--as <email>`
 *   (or with POSTWARDEN_ACTOR) it acts as that Postwarden user, and the CLI checks `needs` with the
 *   function the API's auth plugin uses (access/permissions.ts `checkPermission`). `reading` is what
 *   the command needs when the invocation only reads (a show-or-set command run without a change).
 *   `routes` is the same action over /v1; it must need the same permission (tested), so the CLI is
 *   never a way around the API's check.
 * - `api`: a client of a running server. The server checks the API key it presents against
 *   route-permissions.ts and audits the key; `needs` must equal what those routes need (tested).
 * - `host`: only the host operator may run it, never `--as` a user: it handles the installation
 *   itself (listeners, files, key material, every tenant at once), which no /v1 route offers.
 * - `none`: reads and writes no Postwarden data (a file, live DNS): anyone who can run the binary.
 */
export type CommandAccess =
  | { via: 'store'; needs: Permission; routes: readonly string[]; reading?: Permission }
  | { via: 'api'; needs: Permission; routes: readonly string[] }
  | { via: 'host'; why: string }
  | { via: 'none'; why: string };

const host = (why: string): CommandAccess => ({ via: 'host', why });
const none = (why: string): CommandAccess => ({ via: 'none', why });
const store = (needs: Permission, route: string, reading?: Permission): CommandAccess => ({
  via: 'store',
  needs,
  routes: [route],
  ...(reading ? { reading } : {}),
});
const api = (needs: Permission, ...routes: string[]): CommandAccess => ({ via: 'api', needs, routes });

const keyMaterial = 'key material (the master key file, the KMS credentials) lives on the host, and no /v1 route touches it on purpose';

export const commandPermissions: Readonly<Record<string, CommandAccess>> = {
  serve: host('runs the server itself: its listeners, its store and its master key'),
  backup: host('copies the whole store, every tenant, to a file on the host'),
  // Tenants sit above tenants: no user or key of one may make or list the others.
  'tenants create': host('a tenant is made by whoever runs the installation; no /v1 route creates one'),
  'tenants list': host('lists every tenant of the installation; a user sees only its own (GET /v1/tenant)'),
  'tenants tls-policy': store('policies:write', 'PUT /v1/tenant/tls-policy', 'policies:read'),
  'tenants region': store('settings:write', 'PATCH /v1/tenant', 'settings:read'),
  'users create': store('users:write', 'POST /v1/users'),
  'keys create': store('keys:write', 'POST /v1/keys'),
  'keys list': store('keys:read', 'GET /v1/keys'),
  'keys revoke': store('keys:write', 'DELETE /v1/keys/:id'),
  'domains add': store('domains:write', 'POST /v1/domains'),
  'domains verify': store('domains:write', 'POST /v1/domains/:id/verify'),
  'domains list': store('domains:read', 'GET /v1/domains'),
  'dkim list': store('domains:read', 'GET /v1/domains/:id/dkim'),
  'dkim rotate': store('domains:write', 'POST /v1/domains/:id/dkim/rotate'),
  'dkim verify-dns': store('domains:write', 'POST /v1/domains/:id/verify'),
  'dns audit': none('looks up a domain in live DNS; reads and writes no store'),
  'dns report': none('looks up a domain in live DNS and renders a report; reads and writes no store'),
  'dns history': store('domains:read', 'GET /v1/domains/:id/dns-history'),
  'dns watch': store('domains:write', 'POST /v1/dns-watch'),
  'dns unwatch': store('domains:write', 'DELETE /v1/dns-watch/:domain'),
  'dns approved-mx': store('policies:write', 'PUT /v1/posture/settings', 'policies:read'),
  'spf check': none('evaluates SPF against live DNS; reads and writes no store'),
  'feedback parse': none('parses a file named on the command line'),
  'bounces classify': none('classifies a file or a reply with the bounce rules shipped with the binary'),
  // Compliance operations (docs/compliance.md).
  'trace export': store('compliance:read', 'GET /v1/messages/:id/trace'),
  'trace key': host('prints the fingerprint of the platform signing key, read from the host'),
  'self-assess': host("probes this node's own listeners as a remote would and reads the host's dependency audit"),
  'trace verify': none('verifies a bundle file named on the command line; reads and writes no store'),
  'third-parties list': store('compliance:read', 'GET /v1/third-parties'),
  'third-parties seed': store('compliance:write', 'POST /v1/third-parties/seed'),
  'third-parties add': store('compliance:write', 'POST /v1/third-parties'),
  'credentials compromise': api('compliance:write', 'POST /v1/incidents/credential-compromise'),
  'compliance records': store('audit:read', 'GET /v1/compliance/records-of-processing'),
  'suppressions list': store('suppressions:read', 'GET /v1/suppressions'),
  'suppressions add': store('suppressions:add', 'POST /v1/suppressions'),
  'suppressions remove': store('suppressions:write', 'DELETE /v1/suppressions/:address'),
  'suppressions export': store('suppressions:read', 'GET /v1/suppressions/export'),
  'suppressions import': store('suppressions:write', 'POST /v1/suppressions/import'),
  'suppressions history': store('suppressions:read', 'GET /v1/suppressions/history'),
  'audit verify': store('audit:read', 'GET /v1/audit'),
  'audit export': store('audit:read', 'GET /v1/audit/export'),
  'encryption status': host(`shows coverage and keys of every tenant; ${keyMaterial}`),
  'encryption rotate-master': host(keyMaterial),
  'encryption rotate-tenant': host(keyMaterial),
  'encryption encrypt-existing': host(`seals every tenant's old content; ${keyMaterial}`),
  'encryption run': host(`resumes key jobs of every tenant; ${keyMaterial}`),
  'encryption byok': host(keyMaterial),
  'encryption shred': host(`destroys a tenant's data keys for good; ${keyMaterial}`),
  // Clients of a running server: the API key decides, the server audits it.
  send: api('messages:send', 'POST /v1/messages'),
  'messages show': api('messages:read', 'GET /v1/messages/:id'),
  'events tail': api('messages:read', 'GET /v1/events'),
  'events export': api('messages:read', 'GET /v1/events/export'),
  reputation: api('stats:read', 'GET /v1/reputation'),
  'delivery health': api('stats:read', 'GET /v1/delivery/health'),
  'delivery pause': api('policies:write', 'POST /v1/delivery/health/:site/pause'),
  'delivery resume': api('policies:write', 'POST /v1/delivery/health/:site/resume'),
  'delivery reset': api('policies:write', 'POST /v1/delivery/health/:site/reset'),
  'templates list': api('templates:read', 'GET /v1/templates'),
  'templates create': api('templates:write', 'POST /v1/templates'),
  'templates show': api('templates:read', 'GET /v1/templates/:id'),
  'templates publish': api('templates:write', 'POST /v1/templates/:id/publish'),
  'templates rollback': api('templates:write', 'POST /v1/templates/:id/rollback'),
  'templates preview': api('messages:send', 'POST /v1/templates/:id/preview'),
  'retention status': api('policies:read', 'GET /v1/retention'),
  'retention erase': api('settings:write', 'POST /v1/erasures'),
  'retention hold': api('settings:write', 'POST /v1/legal-holds'),
  'retention release': api('settings:write', 'DELETE /v1/legal-holds/:id'),
  'webhooks list': api('webhooks:read', 'GET /v1/webhooks'),
  'webhooks create': api('webhooks:write', 'POST /v1/webhooks'),
  'webhooks show': api('webhooks:read', 'GET /v1/webhooks/:id'),
  'webhooks update': api('webhooks:write', 'PATCH /v1/webhooks/:id'),
  'webhooks delete': api('webhooks:write', 'DELETE /v1/webhooks/:id'),
  'webhooks rotate-secret': api('webhooks:write', 'POST /v1/webhooks/:id/rotate-secret'),
  'webhooks test': api('webhooks:write', 'POST /v1/webhooks/:id/test'),
  'webhooks attempts': api('webhooks:read', 'GET /v1/webhooks/:id/attempts'),
  'webhooks replay': api('webhooks:write', 'POST /v1/webhooks/:id/replay'),
};

/** What a command needs; undefined when the table has no row (the caller fails closed). */
export function commandAccessFor(path: string): CommandAccess | undefined {
  return Object.hasOwn(commandPermissions, path) ? commandPermissions[path] : undefined;
}
