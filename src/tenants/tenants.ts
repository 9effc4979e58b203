import { expandGrants, type Permission } from '../access/index.js';
import { type Clock, newId, normaliseDomain, PostwardenError, validationError } from '../core/index.js';
import type { ApiKeyRow, DomainRow, Store, Tenant, UserRow } from '../store/index.js';
import { generateSecret, hashSecret, parseScopes } from './api-keys.js';
import { patchSendingLimits, readSendingLimits, type SendingLimits } from './sending-limits.js';
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
}

export interface CreatedKey {
  key: Omit<ApiKeyRow, 'secretHash'>;
  /** Shown once; never stored. */
  secret: string;
}

export interface TenantsDeps {
  store: Pick<Store, 'tenants' | 'apiKeys' | 'domains'>;
  clock: Clock;
}

/**
 * How long delivery trusts a tenant's TLS policy before reading it again. Delivery asks for it on every
 * message (it was one query per message in profiles); a change made through this process applies at
 * once, one made by the CLI (another process) within this time.
 */
export const TLS_POLICY_CACHE_MS = 10_000;
const MAX_CACHED_POLICIES = 10_000;

export function createTenants({ store, clock }: TenantsDeps) {
  const policies = new Map<string, { doc: TenantTlsPolicyDoc; expiresAt: number }>();
  return {
    async createTenant(input: { name: string; sandbox?: boolean }): Promise<Tenant> {
      const name = input.name?.trim();
      if (!name) throw validationError([{ path: '/name', message: 'must be a non-empty name' }]);
      if (name.length > 200) throw validationError([{ path: '/name', message: 'must be at most 200 characters' }]);
      const tenant: Tenant = {
        id: newId('ten', clock.now()),
        name,
        sandbox: input.sandbox ?? false,
        maxMessageBytes: null,
        ratePerMinute: null,
        createdAt: clock.now(),
        alignmentPolicy: 'warn',
      };
      await store.tenants.insert(tenant);
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
      patch: { sandbox?: boolean; maxMessageBytes?: number | null; ratePerMinute?: number | null; alignmentPolicy?: 'warn' | 'reject' },
    ) {
      if (patch.alignmentPolicy !== undefined && patch.alignmentPolicy !== 'warn' && patch.alignmentPolicy !== 'reject') {
        throw validationError([{ path: '/alignment', message: "must be 'warn' or 'reject'" }]);
      }
      await this.getTenant(id);
      await store.tenants.update(id, patch);
      return this.getTenant(id);
    },

    /** Quotas, sending windows and recipient-risk policy (defaults: none, none, allow). */
    async getSendingLimits(id: string): Promise<SendingLimits> {
      return readSendingLimits(await store.tenants.getSendingLimits(id));
    },

    /** Applies PATCH /v1/tenant's quotas, sending_windows and recipient_risk; errors carry field paths. */
    async patchSendingLimits(
      id: string,
      body: { quotas?: unknown; sending_windows?: unknown; recipient_risk?: unknown },
    ): Promise<SendingLimits> {
      await this.getTenant(id);
      const r = patchSendingLimits(await this.getSendingLimits(id), body);
      if (!r.ok) throw validationError(r.errors);
      await store.tenants.setSendingLimits(id, JSON.stringify(r.limits), clock.now());
      return r.limits;
    },

    /** The tenant's outbound TLS policy (default opportunistic for every stream). */
    async getTlsPolicy(id: string): Promise<TenantTlsPolicyDoc> {
      const json = await store.tenants.getTlsPolicy(id);
      if (json === undefined) throw new PostwardenError('NOT_FOUND', `tenant ${id} does not exist`, { id });
      return readStoredTlsPolicy(json);
    },

    /** getTlsPolicy through a short cache, for the delivery hot path (see TLS_POLICY_CACHE_MS). */
    async deliveryTlsPolicy(id: string): Promise<TenantTlsPolicyDoc> {
      const hit = policies.get(id);
      if (hit && hit.expiresAt > clock.now()) return hit.doc;
      const doc = await this.getTlsPolicy(id);
      if (policies.size >= MAX_CACHED_POLICIES) policies.delete(policies.keys().next().value!);
      policies.set(id, { doc, expiresAt: clock.now() + TLS_POLICY_CACHE_MS });
      return doc;
    },

    /** Replaces the tenant's TLS policy; `body` is checked with field paths (`/streams/marketing`). */
    async setTlsPolicy(id: string, body: unknown): Promise<TenantTlsPolicyDoc> {
      const parsed = parseTlsPolicyDoc(body);
      if (!parsed.ok) throw validationError(parsed.errors);
      await this.getTenant(id);
      await store.tenants.setTlsPolicy(id, JSON.stringify(parsed.doc));
      policies.delete(id);
      return parsed.doc;
    },

    async createKey(input: { tenantId: string; name?: string; scopes: string | readonly string[] }): Promise<CreatedKey> {
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
      await store.apiKeys.insert(row);
      const { secretHash: _omit, ...key } = row;
      return { key, secret };
    },

    async listKeys(tenantId: string) {
      return (await store.apiKeys.list(tenantId)).map(({ secretHash: _omit, ...k }) => k);
    },

    async revokeKey(tenantId: string, keyId: string): Promise<void> {
      if (!(await store.apiKeys.revoke(tenantId, keyId, clock.now()))) {
        throw new PostwardenError('NOT_FOUND', `key ${keyId} does not exist or is already revoked`, { id: keyId });
      }
    },

    /** Resolves a presented secret to its tenant and scopes, or undefined. */
    async authenticate(secret: string): Promise<Principal | undefined> {
      if (!secret) return undefined;
      const key = await store.apiKeys.findByHash(hashSecret(secret));
      if (!key || key.revokedAt !== null) return undefined;
      const tenant = await store.tenants.get(key.tenantId);
      if (!tenant) return undefined;
      return { tenant, keyId: key.id, scopes: key.scopes, permissions: expandGrants(key.scopes) };
    },

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

    async removeDomain(tenantId: string, id: string): Promise<void> {
      if (!(await store.domains.delete(tenantId, id))) throw new PostwardenError('NOT_FOUND', `domain ${id} does not exist`, { id });
    },

    /** The tenant's registered domain that covers `domain` (itself or a parent), if any. */
    async owningDomain(tenantId: string, domain: string): Promise<DomainRow | undefined> {
      return coveringDomain(tenantId, domain, await store.domains.findByNames(domainCandidates(domain)));
    },
  };
}

export type Tenants = ReturnType<typeof createTenants>;

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
