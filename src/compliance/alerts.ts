import { type EventPayload, isoTime, type NewEvent, newEvent } from '../core/index.js';
import type { Repositories } from '../store/index.js';

/**
 * A compliance alert: one `compliance.alert` event on the spine (so webhooks, the NATS sink and the
 * SIEM forwarder carry it), raised at most once per (tenant, mark). The mark names what the alert is
 * about (`dmarc-source:198.51.100.7`, `cert:tp_…:SOC 2 Type II:2026-11-30`, an anomaly rule and its
 * window), so a source that appears in every daily report, or a lapse that every check sees, is
 * announced once.
 */
export type AlertKind =
  | 'dmarc-new-source'
  | 'spf-include-unregistered'
  | 'certification-lapsed'
  | 'review-lapsed'
  | 'volume-spike'
  | 'bounce-spike'
  | 'complaint-spike'
  | 'key-new-address'
  | 'auth-failure-burst'
  | 'dmarc-failures';

export type AlertData = EventPayload<'compliance.alert'> & { kind: AlertKind };

export interface Alert {
  tenantId: string;
  /** What makes this alert the same as an earlier one (see above). */
  mark: string;
  data: AlertData;
}

export const alertAt = (ms: number) => isoTime(ms);

/**
 * Appends the alerts not raised before, in the caller's transaction when given one; answers the
 * events appended.
 */
export async function raiseAlerts(tx: Pick<Repositories, 'compliance' | 'events'>, alerts: Alert[], now: number): Promise<NewEvent[]> {
  const fresh: NewEvent[] = [];
  // A rule over its threshold answers the same alert for every event of the batch after the one
  // that crossed it: one mark per (tenant, mark) is asked for, not one per event.
  const asked = new Set<string>();
  for (const a of alerts) {
    const key = `${a.tenantId}\u0000${a.mark}`;
    if (asked.has(key)) continue;
    asked.add(key);
    if (await tx.compliance.mark(a.tenantId, a.mark, now)) fresh.push(newEvent('compliance.alert', { tenantId: a.tenantId }, a.data));
  }
  if (fresh.length) await tx.events.append(fresh, now);
  return fresh;
}
