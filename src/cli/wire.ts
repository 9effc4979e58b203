import type { DomainRow, Tenant } from '../store/index.js';
import type { CreatedKey } from '../tenants/index.js';

/**
 * The --json shapes of admin results: the same snake_case fields and ISO times as the HTTP API's
 * /v1/keys and /v1/domains answers, so a script can read either.
 */
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export const tenantJson = (t: Tenant) => ({ id: t.id, name: t.name, sandbox: t.sandbox, created_at: iso(t.createdAt) });

export type KeyView = CreatedKey['key'];
export const keyJson = (k: KeyView) => ({
  id: k.id,
  tenant_id: k.tenantId,
  name: k.name,
  hint: k.hint,
  scopes: k.scopes,
  created_at: iso(k.createdAt),
  revoked_at: iso(k.revokedAt),
});

export const domainJson = (d: DomainRow) => ({ id: d.id, tenant_id: d.tenantId, name: d.name, created_at: iso(d.createdAt) });
