import { expandGrants, type Permission } from '../access/index.js';
import { type Actor, type AuditInput, type AuditRecorder, unattributed } from '../audit/index.js';
import {
  type Clock,
  newId,
  normaliseDomain,
  PostwardenError,
  recentRead,
  regionProblem,
  SETTINGS_CACHE_MS,
  validationError,
} from '../core/index.js';
import type { ApiKeyRow, DomainRow, Repositories, Store, Tenant, UserRow } from '../store/index.js';
import { generateSecret, hashSecret, parseScopes } from './api-keys.js';
import { patchSendingLimits, readSendingLimits, type SendingLimits, sendingLimitsJson } from './sending-limits.js';
import { parseTlsPolicyDoc, readStoredTlsPolicy, type TenantTlsPolicyDoc } from './tls-policy.js';

/**
 * Tenants, their API keys and the domains they may send as. Identity (DKIM, DNS records,
 * verification) builds on the domain registry kept here.
 */
export interface Principal {
  tenant: Tenant;
  /** The actor's id: the API key (key_…), or the signed-in user (usr_…) for a session. */
  keyId: string;
  /** The key's grants as stored: legacy scopes (send, read, admin) and permission names; [] for a session. */
  scopes: string[];
  /** What the caller may do (src/access/permissions.ts), resolved when it authenticated. */
  permissions: ReadonlySet<Permission>;
  /** The signed-in person, for a session. */
  user?: UserRow;
  /**
   * The address the caller connected from, set by the edge that authenticated it (the HTTP request's
   * address, the SMTP session's remote address); `message.accepted` carries it as `client_ip`.
   */
  clientIp?: string;
}

export interface CreatedKey {
  key: Omit<ApiKeyRow, 'secretHash'>;
  /** Shown once; never stored. */
  secret: string;
}

export interface TenantsDeps {
  store: Pick<Store, 'tenants' | 'apiKeys' | 'domains'>;
  clock: Clock;
  /** Records key, settings and TLS policy changes in the audit log, in the change's transaction. */
  audit?: AuditRecorder;
}

type TenantRepos = Pick<Repositories, 'tenants' | 'apiKeys' | 'domains'>;

const tenantSettings = (t: Tenant) => ({
  sandbox: t.sandbox,
  max_message_bytes: t.maxMessageBytes,
  rate_per_minute: t.ratePerMinute,
  alignment: t.alignmentPolicy,
  data_region: t.dataRegion,
});

/**
 * How long a node trusts an API key it has looked up, and the tenant settings read with it. Every API
 * request and every SMTP AUTH presents a key: a hash and two queries, about 0.1 ms of the main thread
 * per `POST /v1/messages` in profiles. A revocation or tenant change made through this process applies
 * to the next request at once; one made by the CLI (another process) or on another node within this
 * time. Unknown keys are never kept, so a key created anywhere works at once.
 */
export const CREDENTIALS_CACHE_MS = 2_000;

export function createTenants({ store, clock, audit }: TenantsDeps) {
  const cached = { now: () => clock.now(), ttlMs: SETTINGS_CACHE_MS };
  /** By the secret's hash (never the secret): the principal, or undefined for a key that does not work. */
  const principals = recentRead(
    async (secretHash: string): Promise<Principal | undefined> => {
      const key = await store.apiKeys.findByHash(secretHash);
      if (!key || key.revokedAt !== null) return undefined;
      const tenant = await store.tenants.get(key.tenantId);
      if (!tenant) return undefined;
      return { tenant, keyId: key.id, scopes: key.scopes, permissions: expandGrants(key.scopes) };
    },
    { now: () => clock.now(), ttlMs: CREDENTIALS_CACHE_MS },
  );
  const tlsPolicies = recentRead((id: string) => readTlsPolicy(id), cached);
  const sendingLimits = recentRead(async (id: string) => readSendingLimits(await store.tenants.getSendingLimits(id)), cached);
  async function readTlsPolicy(id: string): Promise<TenantTlsPolicyDoc> {
    const json = await store.tenants.getTlsPolicy(id);
    if (json === undefined) throw new PostwardenError('NOT_FOUND', `tenant ${id} does not exist`, { id });
    return readStoredTlsPolicy(json);
  }
  /** The change and its audit entry in one transaction (without an audit log: the change alone). */
  const changed = <T>(fn: (tx: TenantRepos) => Promise<T>, entry: (result: T) => AuditInput | undefined): Promise<T> =>
    audit ? audit.change(fn, entry) : fn(store);
  return {
    async createTenant(
      input: { name: string; sandbox?: boolean; dataRegion?: string | null },
      actor: Actor = unattributed,
    ): Promise<Tenant> {
      const name = input.name?.trim();
      if (!name) throw validationError([{ path: '/name', message: 'must be a non-empty name' }]);
      if (name.length > 200) throw validationError([{ path: '/name', message: 'must be at most 200 characters' }]);
      checkRegion(input.dataRegion);
      const tenant: Tenant = {
        id: newId('ten', clock.now()),
        name,
        sandbox: input.sandbox ?? false,
        maxMessageBytes: null,
        ratePerMinute: null,
        createdAt: clock.now(),
        alignmentPolicy: 'warn',
        dataRegion: input.dataRegion ?? null,
      };
      await changed(
        (tx) => tx.tenants.insert(tenant),
        () => ({
          actor,
          tenantId: tenant.id,
          action: 'tenant.created',
          resource: { type: 'tenant', id: tenant.id },
          after: { name, ...tenantSettings(tenant) },
        }),
      );
      return tenant;
    },

    async getTenant(id: string): Promise<Tenant> {
      const t = await store.tenants.get(id);
      if (!t) throw new PostwardenError('NOT_FOUND', `tenant ${id} does not exist`, { id });
      return t;
    },

    listTenants: () => store.tenants.list(),

    async updateTenant(
      id: string,
      patch: {
        sandbox?: boolean;
        maxMessageBytes?: number | null;
        ratePerMinute?: number | null;
        alignmentPolicy?: 'warn' | 'reject';
        /** Pin the tenant's data to a region, or null to unpin (docs/residency.md); audited with the other settings. */
        dataRegion?: string | null;
      },
      actor: Actor = unattributed,
    ) {
      checkRegion(patch.dataRegion, '/data_region');
      if (patch.alignmentPolicy !== undefined && patch.alignmentPolicy !== 'warn' && patch.alignmentPolicy !== 'reject') {
        throw validationError([{ path: '/alignment', message: "must be 'warn' or 'reject'" }]);
      }
      const before = await this.getTenant(id);
      const after = await changed(
        async (tx) => {
          await tx.tenants.update(id, patch);
          return (await tx.tenants.get(id)) ?? before;
        },
        (after) => ({
          actor,
          tenantId: id,
          action: 'tenant.settings_updated',
          resource: { type: 'tenant', id },
          before: tenantSettings(before),
          after: tenantSettings(after),
        }),
      );
      // Principals carry their tenant's settings; which keys are this tenant's is not known here.
      principals.clear();
      return after;
    },

    /** Quotas, sending windows and recipient-risk policy (defaults: none, none, allow). */
    async getSendingLimits(id: string): Promise<SendingLimits> {
      return readSendingLimits(await store.tenants.getSendingLimits(id));
    },

    /** getSendingLimits through the settings cache, for accept's hot path (see SETTINGS_CACHE_MS). */
    acceptSendingLimits(id: string): Promise<SendingLimits> {
      return sendingLimits.get(id);
    },

    /** Applies PATCH /v1/tenant's quotas, sending_windows and recipient_risk; errors carry field paths. */
    async patchSendingLimits(
      id: string,
      body: { quotas?: unknown; sending_windows?: unknown; recipient_risk?: unknown },
      actor: Actor = unattributed,
    ): Promise<SendingLimits> {
      await this.getTenant(id);
      const before = await this.getSendingLimits(id);
      const r = patchSendingLimits(before, body);
      if (!r.ok) throw validationError(r.errors);
      const limits = r.limits;
      if (JSON.stringify(limits) === JSON.stringify(before)) return limits;
      await changed(
        (tx) => tx.tenants.setSendingLimits(id, JSON.stringify(limits), clock.now()),
        () => ({
          actor,
          tenantId: id,
          action: 'tenant.sending_limits_updated',
          resource: { type: 'tenant', id },
          // As the API shows them (PATCH /v1/tenant's sending_limits).
          before: sendingLimitsJson(before),
          after: sendingLimitsJson(limits),
        }),
      );
      sendingLimits.forget(id);
      return limits;
    },

    /** The tenant's outbound TLS policy (default opportunistic for every stream). */
    async getTlsPolicy(id: string): Promise<TenantTlsPolicyDoc> {
      return readTlsPolicy(id);
    },

    /** getTlsPolicy through the settings cache, for the delivery hot path (see SETTINGS_CACHE_MS). */
    deliveryTlsPolicy(id: string): Promise<TenantTlsPolicyDoc> {
      return tlsPolicies.get(id);
    },

    /** Replaces the tenant's TLS policy; `body` is checked with field paths (`/streams/marketing`). */
    async setTlsPolicy(id: string, body: unknown, actor: Actor = unattributed): Promise<TenantTlsPolicyDoc> {
      const parsed = parseTlsPolicyDoc(body);
      if (!parsed.ok) throw validationError(parsed.errors);
      const before = await this.getTlsPolicy(id);
      await changed(
        (tx) => tx.tenants.setTlsPolicy(id, JSON.stringify(parsed.doc)),
        () => ({ actor, tenantId: id, action: 'tls_policy.updated', resource: { type: 'tls_policy', id }, before, after: parsed.doc }),
      );
      tlsPolicies.forget(id);
      return parsed.doc;
    },

    async createKey(
      input: { tenantId: string; name?: string; scopes: string | readonly string[] },
      actor: Actor = unattributed,
    ): Promise<CreatedKey> {
      await this.getTenant(input.tenantId);
      const parsed = parseScopes(input.scopes);
      if (!parsed.ok) {
        throw validationError([
          { path: '/scopes', message: `unknown scope(s) ${parsed.bad.join(', ')}; use send, read, admin or permissions (docs/access.md)` },
        ]);
      }
      const secret = generateSecret();
      const row: ApiKeyRow = {
        id: newId('key', clock.now()),
        tenantId: input.tenantId,
        name: input.name?.trim() || 'key',
        secretHash: hashSecret(secret),
        hint: secret.slice(0, 7),
        scopes: parsed.scopes,
        createdAt: clock.now(),
        revokedAt: null,
      };
      // The entry holds the key's name, scopes and hint; never its secret or the secret's hash.
      await changed(
        (tx) => tx.apiKeys.insert(row),
        () => ({
          actor,
          tenantId: row.tenantId,
          action: 'api_key.created',
          resource: { type: 'api_key', id: row.id },
          after: { name: row.name, scopes: row.scopes, hint: row.hint },
        }),
      );
      const { secretHash: _omit, ...key } = row;
      return { key, secret };
    },

    async listKeys(tenantId: string) {
      return (await store.apiKeys.list(tenantId)).map(({ secretHash: _omit, ...k }) => k);
    },

    async revokeKey(tenantId: string, keyId: string, actor: Actor = unattributed): Promise<void> {
      const now = clock.now();
      const key = (await store.apiKeys.list(tenantId)).find((k) => k.id === keyId);
      await changed(
        async (tx) => {
          if (!(await tx.apiKeys.revoke(tenantId, keyId, now))) {
            throw new PostwardenError('NOT_FOUND', `key ${keyId} does not exist or is already revoked`, { id: keyId });
          }
        },
        () => ({
          actor,
          tenantId,
          action: 'api_key.revoked',
          resource: { type: 'api_key', id: keyId },
          before: key ? { name: key.name, scopes: key.scopes, revoked_at: null } : null,
          after: { revoked_at: new Date(now).toISOString() },
        }),
      );
      if (key) principals.forget(key.secretHash);
    },

    /** Resolves a presented secret to its tenant and scopes, or undefined (kept CREDENTIALS_CACHE_MS). */
    async authenticate(secret: string): Promise<Principal | undefined> {
      if (!secret) return undefined;
      const secretHash = hashSecret(secret);
      const principal = await principals.get(secretHash);
      if (!principal) principals.forget(secretHash);
      return principal;
    },

    /** Registers the name only; identity's addDomain (with its DKIM keys) is the audited operation. */
    async addDomain(tenantId: string, name: string, streams: string[] | null = null): Promise<DomainRow> {
      const domain = typeof name === 'string' ? normaliseDomain(name) : null;
      if (!domain) throw validationError([{ path: '/name', message: 'must be a domain name such as example.com' }]);
      const existing = await store.domains.findByName(domain);
      if (existing) {
        throw new PostwardenError(
          'CONFLICT',
          `domain ${domain} is already registered${existing.tenantId === tenantId ? '' : ' by another tenant'}`,
          {
            errors: [{ path: '/name', message: 'is already registered' }],
          },
        );
      }
      const row: DomainRow = { id: newId('dom', clock.now()), tenantId, name: domain, createdAt: clock.now(), streams };
      await store.domains.insert(row);
      return row;
    },

    listDomains: (tenantId: string) => store.domains.list(tenantId),

    async getDomain(tenantId: string, id: string): Promise<DomainRow> {
      const d = await store.domains.get(id);
      if (!d || d.tenantId !== tenantId) throw new PostwardenError('NOT_FOUND', `domain ${id} does not exist`, { id });
      return d;
    },

    /** Removes a domain; with an actor the removal is audited (`domain.deleted`). */
    async removeDomain(tenantId: string, id: string, actor?: Actor): Promise<void> {
      const before = actor ? await store.domains.get(id) : undefined;
      await changed(
        async (tx) => {
          if (!(await tx.domains.delete(tenantId, id))) throw new PostwardenError('NOT_FOUND', `domain ${id} does not exist`, { id });
        },
        () =>
          actor
            ? {
                actor,
                tenantId,
                action: 'domain.deleted',
                resource: { type: 'domain', id },
                before: before ? { name: before.name, streams: before.streams } : null,
              }
            : undefined,
      );
    },

    /** The tenant's registered domain that covers `domain` (itself or a parent), if any. */
    async owningDomain(tenantId: string, domain: string): Promise<DomainRow | undefined> {
      return coveringDomain(tenantId, domain, await store.domains.findByNames(domainCandidates(domain)));
    },
  };
}

export type Tenants = ReturnType<typeof createTenants>;

/** A data region to pin a tenant to: null or undefined (unpinned), or a region label. */
function checkRegion(region: string | null | undefined, path = '/data_region'): void {
  if (region === null || region === undefined) return;
  const problem = typeof region === 'string' ? regionProblem(region) : 'must be a string or null';
  if (problem) throw validationError([{ path, message: problem }]);
}

/** A domain and its parents (news.example.com → news.example.com, example.com): who may cover it. */
export function domainCandidates(domain: string): string[] {
  const labels = domain.split('.');
  return labels.slice(0, -1).map((_, i) => labels.slice(i).join('.'));
}

/**
 * The registered domain that lets `tenantId` send as `domain`: the most specific registered name
 * among its candidates decides, so a subdomain registered by another tenant is not covered by a
 * parent this tenant holds.
 */
export function coveringDomain(tenantId: string, domain: string, registered: readonly DomainRow[]): DomainRow | undefined {
  for (const name of domainCandidates(domain)) {
    const d = registered.find((r) => r.name === name);
    if (d) return d.tenantId === tenantId ? d : undefined;
  }
  return undefined;
}
