import { PostwardenError } from '../core/index.js';

/**
 * Who may do what: the closed list of permissions, the built-in roles as sets of them, and the legacy
 * key scopes (`send`, `read`, `admin`) as aliases. The list is derived from what the /v1 routes do
 * (route-permissions.ts maps each route to one); a permission is `area:verb`, and a `:read` never
 * implies the content of messages (`messages:read-body` is its own, because auditors ask who read one).
 *
 * The aliases are exactly as wide as the scopes were: a key with `send` reaches the same routes as
 * before (test/access/route-permissions.test.ts checks it route by route), so no stored key changes
 * meaning.
 */
export const permissions = [
  'messages:send',
  'messages:read',
  'messages:read-body',
  'sandbox:write',
  'feedback:write',
  'stats:read',
  'domains:read',
  'domains:write',
  'keys:read',
  'keys:write',
  'suppressions:read',
  'suppressions:add',
  'suppressions:write',
  'webhooks:read',
  'webhooks:write',
  'policies:read',
  'policies:write',
  'templates:read',
  'templates:write',
  'lists:read',
  'lists:write',
  'experiments:read',
  'experiments:write',
  'settings:read',
  'settings:write',
  'users:read',
  'users:write',
  'audit:read',
  'compliance:read',
  'compliance:write',
] as const;
export type Permission = (typeof permissions)[number];

const permissionSet: ReadonlySet<string> = new Set(permissions);
export const isPermission = (s: string): s is Permission => permissionSet.has(s);

/** What each permission lets its holder do, for docs/access.md and GET /v1/roles. */
export const permissionMeaning: Record<Permission, string> = {
  'messages:send': 'Send, dry-run, preview templates, cancel and relabel messages.',
  'messages:read': 'Read message metadata, events, recipients and search (no bodies).',
  'messages:read-body': 'Read message content: sandbox captures, their HTML and attachments.',
  'sandbox:write': 'Delete sandbox captures.',
  'feedback:write': 'Submit feedback reports (DSN, ARF, DMARC, TLS-RPT) over HTTP.',
  'stats:read': 'Delivery and TLS statistics, overview, SLOs, provider health, DMARC summaries.',
  'domains:read': 'Domains, DKIM, DNS posture audits, history and watch list.',
  'domains:write': 'Add, verify, change and remove domains; rotate DKIM keys; change the DNS watch list.',
  'keys:read': 'List API keys (never their secrets).',
  'keys:write': 'Create and revoke API keys.',
  'suppressions:read': 'Read, check and export suppressions and their history.',
  'suppressions:add': 'Add suppressions (a sender reporting an opt-out).',
  'suppressions:write': 'Remove and import suppressions.',
  'webhooks:read': 'Read webhook endpoints and their attempts.',
  'webhooks:write': 'Create, change, test, replay and delete webhook endpoints; rotate their secrets.',
  'policies:read': 'Read TLS, preflight, suppression, tracking and posture policies.',
  'policies:write': 'Change TLS, preflight, suppression, tracking and posture policies.',
  'templates:read': 'Read templates and their versions.',
  'templates:write': 'Create, edit, publish and roll back templates.',
  'lists:read': 'Read contact lists and import findings.',
  'lists:write': 'Create lists and import contacts.',
  'experiments:read': 'Read experiments and their results.',
  'experiments:write': 'Start and stop experiments.',
  'settings:read': "Read the tenant's settings.",
  'settings:write': "Change the tenant's settings.",
  'users:read': 'List users and roles.',
  'users:write': 'Create, change and disable users; define custom roles.',
  'audit:read': 'Read the audit log.',
  'compliance:read': 'Read the third-party register and incidents (timelines, clocks, reminders); export signed message traces.',
  'compliance:write':
    'Change the third-party register; open, annotate and close incidents; respond to a credential compromise (with the keys:write or users:write and webhooks:write it revokes and rotates with).',
};

export const builtInRoles = ['owner', 'admin', 'developer', 'analyst', 'support', 'auditor'] as const;
export type BuiltInRole = (typeof builtInRoles)[number];
export const isBuiltInRole = (s: string): s is BuiltInRole => (builtInRoles as readonly string[]).includes(s);

const reads = permissions.filter((p) => p.endsWith(':read'));

/**
 * Owner and admin hold everything; what sets the owner apart is that only an owner may make or unmake
 * an owner (users.ts). The others are least privilege for a job: a developer integrates (keys,
 * webhooks, templates, sandbox), an analyst looks at numbers, support answers "did my mail arrive"
 * and fixes suppressions, an auditor reads every setting and the audit log but no message content.
 */
export const rolePermissions: Record<BuiltInRole, readonly Permission[]> = {
  owner: permissions,
  admin: permissions,
  developer: [
    'messages:send',
    'messages:read',
    'messages:read-body',
    'sandbox:write',
    'feedback:write',
    'stats:read',
    'domains:read',
    'domains:write',
    'keys:read',
    'keys:write',
    'suppressions:read',
    'suppressions:add',
    'webhooks:read',
    'webhooks:write',
    'policies:read',
    'templates:read',
    'templates:write',
    'lists:read',
    'experiments:read',
    'experiments:write',
    'settings:read',
  ],
  analyst: [
    'messages:read',
    'stats:read',
    'domains:read',
    'suppressions:read',
    'webhooks:read',
    'policies:read',
    'templates:read',
    'lists:read',
    'experiments:read',
    'settings:read',
  ],
  support: [
    'messages:read',
    'messages:read-body',
    'stats:read',
    'domains:read',
    'suppressions:read',
    'suppressions:add',
    'suppressions:write',
    'templates:read',
    'settings:read',
  ],
  auditor: [...reads, 'audit:read'],
};

/**
 * The scopes keys were created with before permissions existed. `read` is every read but keys, users,
 * the audit log and compliance (incidents name people and messages; GET /v1/keys always needed
 * `admin`); `admin` is everything.
 */
export const scopeAliases = {
  send: ['messages:send', 'suppressions:add', 'sandbox:write', 'feedback:write'],
  read: [
    'messages:read',
    'messages:read-body',
    ...reads.filter(
      (p) => p !== 'messages:read' && p !== 'keys:read' && p !== 'users:read' && p !== 'audit:read' && p !== 'compliance:read',
    ),
  ],
  admin: permissions,
} as const satisfies Record<string, readonly Permission[]>;
export type ScopeAlias = keyof typeof scopeAliases;
export const isScopeAlias = (s: string): s is ScopeAlias => Object.hasOwn(scopeAliases, s);

/**
 * A key's grants (aliases and permission names, as stored) as the permissions they give. Unknown
 * names give nothing: a grant written by a newer version is ignored, never widened.
 */
export function expandGrants(grants: readonly string[]): ReadonlySet<Permission> {
  const out = new Set<Permission>();
  for (const g of grants) {
    if (isScopeAlias(g)) for (const p of scopeAliases[g]) out.add(p);
    else if (isPermission(g)) out.add(g);
  }
  return out;
}

/** Checks a list of grants (a key's scopes, a custom role's permissions) with a message per bad name. */
export function parseGrants(
  input: string | readonly string[],
  opts: { aliases: boolean },
): { ok: true; grants: string[] } | { ok: false; bad: string[] } {
  const list = (typeof input === 'string' ? input.split(',') : [...input]).map((s) => s.trim()).filter(Boolean);
  const bad = list.filter((s) => !isPermission(s) && !(opts.aliases && isScopeAlias(s)));
  if (bad.length || !list.length) return { ok: false, bad: bad.length ? bad : ['(none given)'] };
  return { ok: true, grants: [...new Set(list)] };
}

/** Whoever is asking, as a permission check sees it: what it holds and how to name it in a refusal. */
export interface PermissionHolder {
  permissions: ReadonlySet<Permission>;
  /** `ana@example.com (role developer)`, `key key_…`: said in the refusal. */
  label: string;
}

/**
 * The one permission check: the API's auth plugin runs it on every request and the CLI on every
 * command that works on the store, so both refuse the same caller with the same FORBIDDEN (HTTP 403,
 * CLI exit 77) naming the missing permission in `details.permission`.
 */
export function checkPermission(holder: PermissionHolder, needed: Permission): void {
  if (holder.permissions.has(needed)) return;
  throw new PostwardenError('FORBIDDEN', `This operation needs the "${needed}" permission, which ${holder.label} does not have.`, {
    permission: needed,
  });
}

/**
 * No way up: a key never gets a permission its creator lacks. Throws FORBIDDEN naming the first
 * permission `grants` (a key's scopes) would give that `holder` does not hold.
 */
export function checkKeyGrants(holder: Pick<PermissionHolder, 'permissions'>, grants: readonly string[]): void {
  const missing = [...expandGrants(grants)].find((perm) => !holder.permissions.has(perm));
  if (missing) {
    throw new PostwardenError('FORBIDDEN', `You cannot give a key "${missing}": you do not hold it yourself.`, { permission: missing });
  }
}
