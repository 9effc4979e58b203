import type { Clock, EventType } from '../core/index.js';
import type { Store } from '../store/index.js';
import type { BreakerView } from './provider-health.js';
import type { QueueNow, Slo, SloReport } from './slo.js';

/**
 * The operator's overview: what happened in the last hour and day, the queue, the SLOs and the
 * alerts still open (DNS posture alerts of the last day, open circuit breakers).
 */
export const overviewCounts = ['accepted', 'delivered', 'deferred', 'bounced', 'complained', 'suppressed', 'expired'] as const;
export type OverviewCount = (typeof overviewCounts)[number];

const typeOf: Record<OverviewCount, EventType> = {
  accepted: 'message.accepted',
  delivered: 'recipient.delivered',
  deferred: 'recipient.deferred',
  bounced: 'recipient.bounced',
  complained: 'recipient.complained',
  suppressed: 'recipient.suppressed',
  expired: 'recipient.expired',
};

export interface Alert {
  kind: 'dns' | 'breaker';
  severity: string;
  subject: string;
  message: string;
  at: number;
}

export interface Overview {
  at: number;
  lastHour: Record<OverviewCount, number>;
  lastDay: Record<OverviewCount, number>;
  queue: QueueNow;
  slo: SloReport;
  alerts: Alert[];
}

export function createOverview(deps: {
  store: Pick<Store, 'outcomes'>;
  clock: Clock;
  slo: Slo;
  queue: () => Promise<QueueNow>;
  breakers: () => BreakerView[];
}) {
  const types = overviewCounts.map((c) => typeOf[c]);
  const counts = async (tenantId: string, since: number) => {
    const m = await deps.store.outcomes.countsSince({ tenantId, since, types });
    return Object.fromEntries(overviewCounts.map((c) => [c, m.get(typeOf[c]) ?? 0])) as Record<OverviewCount, number>;
  };
  return async function overview(tenantId: string): Promise<Overview> {
    const now = deps.clock.now();
    const [lastHour, lastDay, queue, slo, dns] = await Promise.all([
      counts(tenantId, now - 3_600_000),
      counts(tenantId, now - 86_400_000),
      deps.queue(),
      deps.slo.report(tenantId),
      deps.store.outcomes.eventsSince({ tenantId, since: now - 86_400_000, types: ['dns.alert'], limit: 50 }),
    ]);
    const alerts: Alert[] = [
      ...deps
        .breakers()
        .filter((b) => b.state !== 'closed')
        .map((b) => ({
          kind: 'breaker' as const,
          severity: b.state === 'open' ? 'critical' : 'warning',
          subject: b.site,
          message: b.reason,
          at: b.openedAt ?? now,
        })),
      ...dns.map((e) => ({
        kind: 'dns' as const,
        severity: String(e.data.severity ?? 'warning'),
        subject: String(e.data.domain ?? ''),
        message: String(e.data.message ?? e.data.kind ?? 'DNS posture alert'),
        at: e.at,
      })),
    ];
    return { at: now, lastHour, lastDay, queue, slo, alerts };
  };
}
