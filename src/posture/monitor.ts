import { type Actor, type AuditInput, type AuditRecorder, auditedChange, unattributed } from '../audit/index.js';
import { type Clock, isoTime, type NewEvent, newEvent, PostwardenError } from '../core/index.js';
import type { DnsSnapshotRow, Repositories, Store } from '../store/index.js';
import { mxMatches } from '../transport-policy/index.js';
import { type AuditDeps, type AuditResult, auditDomain, auditDomainName } from './audit.js';
import type { DelegationInput } from './delegation.js';
import { type Alert, diffRecords, type RecordChange, riskyChanges, type SnapshotView } from './snapshot-diff.js';

/**
 * The posture monitor. Every managed domain (each tenant's sending domains) and every watched domain
 * is audited again once its last snapshot is older than the interval. Each run stores a snapshot of
 * every record seen, the facts and the findings; the difference from the previous snapshot becomes
 * one `dns.changed` event, and each risky change one `dns.alert` event, in the same transaction as
 * the snapshot (so history and events never disagree).
 *
 * Scheduling is `runDue()`: it decides from the stored snapshots and the injected clock what is due,
 * so tests move a fake clock and call it; in production a scheduled job (queue/) calls it on one node
 * of the cluster at a time. One run at a time.
 */
export type PostureStore = Pick<Store, 'posture' | 'tenants' | 'domains' | 'dkimKeys' | 'transaction'>;

export interface PostureMonitorDeps extends Omit<AuditDeps, 'clock'> {
  store: PostureStore;
  clock: Clock;
  /** How often each domain is audited. */
  intervalMs: number;
  /** Called with errors of background runs (the log). */
  onError?: (error: unknown, domain: string) => void;
  /**
   * The tenant's third-party register for a domain's audit (subdomain delegation proposals). The
   * platform reads it from src/compliance; posture declares only the shape it needs.
   */
  thirdParties?: (tenantId: string, domain: string) => Promise<DelegationInput>;
  /** Records watch list and approved-MX changes in the audit log, in the change's transaction. */
  audit?: AuditRecorder;
}

export interface MonitorRun {
  snapshot: DnsSnapshotRow;
  previousSnapshotId: string | null;
  changes: RecordChange[];
  alerts: Alert[];
  audit: AuditResult;
}

export interface HistoryEntry {
  snapshotId: string;
  takenAt: string;
  resolver: string;
  findings: { id: string; severity: string; subject: string }[];
  changes: RecordChange[];
  alerts: Alert[];
}

const view = (s: DnsSnapshotRow): SnapshotView => ({
  id: s.id,
  records: s.records as SnapshotView['records'],
  facts: s.facts as SnapshotView['facts'],
  findings: s.findings as SnapshotView['findings'],
});

export function createPostureMonitor(deps: PostureMonitorDeps) {
  const { store, clock } = deps;
  let running: Promise<number> | undefined;

  const changed = <T>(fn: (tx: Repositories) => Promise<T>, entry: (r: T) => AuditInput | undefined) =>
    auditedChange(deps.audit, store, fn, entry);

  async function selectorsFor(tenantId: string, domain: string): Promise<string[]> {
    const row = await store.domains.findByName(domain);
    if (!row || row.tenantId !== tenantId) return [];
    return (await store.dkimKeys.listByDomain(row.id)).filter((k) => k.status !== 'retired').map((k) => k.selector);
  }

  async function auditFor(tenantId: string, domain: string, selectors?: string[]): Promise<AuditResult> {
    const [approvedMx, thirdParties, own] = await Promise.all([
      store.posture.approvedMx(tenantId),
      deps.thirdParties?.(tenantId, domain),
      selectors ?? selectorsFor(tenantId, domain),
    ]);
    return auditDomain(
      domain,
      { ...deps, clock },
      { selectors: own, ...(approvedMx ? { approvedMx } : {}), ...(thirdParties?.senders.length ? { thirdParties } : {}) },
    );
  }

  /** Audits one domain for a tenant, stores the snapshot and appends the change and alert events. */
  async function auditAndRecord(tenantId: string, input: string): Promise<MonitorRun> {
    const domain = auditDomainName(input);
    const [audit, previous, approvedMx] = await Promise.all([
      auditFor(tenantId, domain),
      store.posture.latestSnapshot(tenantId, domain),
      store.posture.approvedMx(tenantId),
    ]);
    const now = clock.now();
    const next = {
      tenantId,
      domain,
      takenAt: now,
      resolver: audit.resolver,
      records: audit.queries,
      facts: audit.facts,
      findings: audit.findings.map((f) => ({ id: f.id, severity: f.severity, subject: f.subject })),
    };
    const after: SnapshotView = { id: '', records: audit.queries, facts: audit.facts as SnapshotView['facts'], findings: next.findings };
    const changes = previous ? diffRecords(view(previous).records, audit.queries) : [];
    const alerts = previous ? riskyChanges(view(previous), after, { ...(approvedMx ? { approvedMx } : {}), matches: mxMatches }) : [];
    const snapshot = await store.transaction(async (tx) => {
      const row = await tx.posture.insertSnapshot(next);
      const events: NewEvent[] = [];
      if (changes.length > 0) {
        events.push(
          newEvent('dns.changed', { tenantId }, { domain, snapshotId: row.id, previousSnapshotId: previous?.id ?? null, changes }),
        );
      }
      for (const a of alerts) events.push(newEvent('dns.alert', { tenantId }, { domain, snapshotId: row.id, ...a }));
      await tx.events.append(events, now);
      return row;
    });
    return { snapshot, previousSnapshotId: previous?.id ?? null, changes, alerts, audit };
  }

  /** Every (tenant, domain) pair the monitor covers: managed domains and the watch list. */
  async function targets(): Promise<{ tenantId: string; domain: string }[]> {
    const out = new Map<string, { tenantId: string; domain: string }>();
    for (const t of await store.tenants.list()) {
      for (const d of await store.domains.list(t.id)) out.set(`${t.id} ${d.name}`, { tenantId: t.id, domain: d.name });
    }
    for (const w of await store.posture.listWatch()) out.set(`${w.tenantId} ${w.domain}`, { tenantId: w.tenantId, domain: w.domain });
    return [...out.values()];
  }

  async function runDueOnce(): Promise<number> {
    let audited = 0;
    const now = clock.now();
    for (const { tenantId, domain } of await targets()) {
      const last = await store.posture.latestSnapshot(tenantId, domain);
      if (last && now - last.takenAt < deps.intervalMs) continue;
      try {
        await auditAndRecord(tenantId, domain);
        audited += 1;
      } catch (e) {
        deps.onError?.(e, domain);
      }
    }
    return audited;
  }

  async function history(tenantId: string, input: string, limit = 100): Promise<HistoryEntry[]> {
    const domain = auditDomainName(input);
    const approvedMx = await store.posture.approvedMx(tenantId);
    const snaps = await store.posture.listSnapshots(tenantId, domain, limit);
    return snaps.map((s, i) => {
      const prev = i > 0 ? snaps[i - 1] : undefined;
      return {
        snapshotId: s.id,
        takenAt: isoTime(s.takenAt),
        resolver: s.resolver,
        findings: view(s).findings,
        changes: prev ? diffRecords(view(prev).records, view(s).records) : [],
        alerts: prev ? riskyChanges(view(prev), view(s), { ...(approvedMx ? { approvedMx } : {}), matches: mxMatches }) : [],
      };
    });
  }

  return {
    /** An ad-hoc audit (API, CLI): nothing is stored. */
    audit: (tenantId: string, domain: string, selectors?: string[]) => auditFor(tenantId, auditDomainName(domain), selectors),
    auditAndRecord,
    /** Audits every domain whose last snapshot is older than the interval; resolves with how many ran. */
    runDue(): Promise<number> {
      running ??= runDueOnce().finally(() => {
        running = undefined;
      });
      return running;
    },
    history,
    /** Adds a domain to the watch list, recorded as `dns_watch.added`; one already watched records nothing. */
    async watch(tenantId: string, domain: string, actor: Actor = unattributed): Promise<{ domain: string; added: boolean }> {
      const name = auditDomainName(domain);
      const added = await changed(
        (tx) => tx.posture.addWatch(tenantId, name, clock.now()),
        (yes) =>
          yes
            ? { actor, tenantId, action: 'dns_watch.added', resource: { type: 'dns_watch', id: name }, after: { domain: name } }
            : undefined,
      );
      return { domain: name, added };
    },
    /** Removes a domain from the watch list, recorded as `dns_watch.removed` in the same transaction. */
    async unwatch(tenantId: string, domain: string, actor: Actor = unattributed): Promise<void> {
      const name = auditDomainName(domain);
      await changed(
        async (tx) => {
          if (!(await tx.posture.removeWatch(tenantId, name)))
            throw new PostwardenError('NOT_FOUND', `${name} is not on the watch list`, { domain: name });
        },
        () => ({ actor, tenantId, action: 'dns_watch.removed', resource: { type: 'dns_watch', id: name }, before: { domain: name } }),
      );
    },
    watchList: (tenantId: string) => store.posture.listWatch(tenantId),
    approvedMx: (tenantId: string) => store.posture.approvedMx(tenantId),
    /**
     * Replaces the approved MX patterns, recorded as `posture_settings.updated` (before: null when
     * never set) in the same transaction; the same list records nothing.
     */
    async setApprovedMx(tenantId: string, patterns: string[], actor: Actor = unattributed): Promise<string[]> {
      const clean = [...new Set(patterns.map((p) => p.trim().toLowerCase().replace(/\.$/, '')).filter(Boolean))].sort();
      await changed(
        async (tx) => {
          const before = (await tx.posture.approvedMx(tenantId)) ?? null;
          if (before && JSON.stringify(before) === JSON.stringify(clean)) return { before, changed: false };
          await tx.posture.setApprovedMx(tenantId, clean, clock.now());
          return { before, changed: true };
        },
        (r) =>
          r.changed
            ? {
                actor,
                tenantId,
                action: 'posture_settings.updated',
                resource: { type: 'posture_settings', id: tenantId },
                before: { approved_mx: r.before },
                after: { approved_mx: clean },
              }
            : undefined,
      );
      return clean;
    },
  };
}

export type PostureMonitor = ReturnType<typeof createPostureMonitor>;
