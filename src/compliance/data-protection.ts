import { isoTime } from '../core/index.js';
import type { Store } from '../store/index.js';

/**
 * A tenant's data protection as evidence (issue #18's evidence, docs/posture.md): whether new
 * writes are sealed and what share of the tenant's stored content is, its data keys with their dates
 * (rotation shows as a new version, a master-key rotation as `rewrapped_at`, crypto-shredding as
 * `destroyed_at`; never key material), the region it is pinned to against this node's, the legal
 * holds in force (an address hold never shows its address) and the latest purge runs with the
 * tenant's own counts. The evidence report renders it (src/posture/report-sections.ts declares the
 * shape it reads, `ReportDataProtection`); an edge hands it in for callers who may read audit evidence.
 */
/** Purge runs shown: each covers every tenant, so the latest few say how retention is kept. */
const RUNS_SHOWN = 10;

/** What a purge run's counts say of one tenant (runs from before the events class have no `events`). */
interface RunCounts {
  tenants?: Record<string, { purged?: number; held?: number }>;
  events?: { tenants?: Record<string, { purged?: number; held?: number }> };
}

export function createDataProtectionEvidence(deps: {
  store: Pick<Store, 'encryption' | 'retention' | 'tenants'>;
  /** `encryption.enabled` of this node. */
  encryptionEnabled: boolean;
  /** `residency.region` of this node ('' when it has none). */
  region: string;
}) {
  const { store } = deps;
  const iso = (t: number | null) => (t === null ? null : isoTime(t));
  return {
    /** Its shape is what the report reads (`ReportDataProtection`, src/posture/report-sections.ts); platform.ts joins the two. */
    async compute(tenantId: string) {
      const [coverage, keys, tenant, holds, runs] = await Promise.all([
        store.encryption.coverage(tenantId),
        store.encryption.tenantKeys(tenantId),
        store.tenants.get(tenantId),
        store.retention.holds(tenantId),
        store.retention.runs(RUNS_SHOWN),
      ]);
      return {
        tenant_id: tenantId,
        encryption: {
          enabled: deps.encryptionEnabled,
          sealed: coverage.sealed,
          total: coverage.total,
          share: coverage.share,
          keys: keys.map((k) => ({
            id: k.id,
            purpose: k.purpose,
            version: k.version,
            state: k.state,
            provider: k.provider,
            created_at: isoTime(k.createdAt),
            rewrapped_at: iso(k.rewrappedAt),
            destroyed_at: iso(k.destroyedAt),
          })),
        },
        residency: { node_region: deps.region || null, tenant_region: tenant?.dataRegion ?? null },
        holds: holds.map((h) => ({
          id: h.id,
          kind: h.kind,
          reason: h.reason,
          placed_at: isoTime(Number(h.created_at)),
          message_id: h.message_id,
          from: h.from_at === null ? null : isoTime(Number(h.from_at)),
          until: h.until_at === null ? null : isoTime(Number(h.until_at)),
        })),
        purge_runs: runs.map((r) => {
          const c = r.counts as RunCounts;
          const bodies = c.tenants?.[tenantId];
          const events = c.events?.tenants?.[tenantId];
          return {
            id: r.id,
            state: r.state,
            started_at: isoTime(Number(r.started_at)),
            finished_at: r.finished_at === null ? null : isoTime(Number(r.finished_at)),
            bodies_purged: bodies?.purged ?? 0,
            bodies_held: bodies?.held ?? 0,
            events_purged: events?.purged ?? 0,
            events_held: events?.held ?? 0,
          };
        }),
      };
    },
  };
}

export type DataProtectionEvidenceService = ReturnType<typeof createDataProtectionEvidence>;
