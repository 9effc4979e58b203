import type { Clock } from '../core/index.js';
import { type Consumer, createConsumer } from '../events/index.js';
import type { Store } from '../store/index.js';
import { type Alert, raiseAlerts } from './alerts.js';
import type { AnomalyDetector } from './anomalies.js';
import type { Register } from './register.js';

/**
 * The consumer that turns the spine into compliance alerts: each DMARC aggregate report stored
 * (`report.received`) is held against the third-party register, and every event goes through the
 * anomaly detector. The alerts of a batch are appended in the transaction that moves the consumer
 * past it (events/consumer.ts), each at most once per mark. Its own `compliance.alert` events pass
 * through untouched.
 */
export interface AlertConsumerDeps {
  store: Pick<Store, 'events' | 'consumerCursors' | 'jobLeases' | 'transaction'>;
  clock: Clock;
  owner: string;
  register: Pick<Register, 'dmarcAlerts'>;
  anomalies: AnomalyDetector;
  pollMs?: number;
  log?: { warn(obj: object, msg: string): void };
}

export function createAlertConsumer(deps: AlertConsumerDeps): Consumer {
  return createConsumer({
    name: 'compliance-alerts',
    store: deps.store,
    clock: deps.clock,
    owner: deps.owner,
    // Alerts are about what happens from now on; a new install does not re-judge its history.
    startAt: 'end',
    pollMs: deps.pollMs ?? 1000,
    batchSize: 200,
    handle: async (events) => {
      const alerts: Alert[] = [];
      const counts = deps.anomalies.batch();
      for (const e of events) {
        if (e.type === 'compliance.alert') continue;
        if (e.type === 'report.received' && e.data.kind === 'dmarc-aggregate' && typeof e.data.feedback_id === 'string') {
          alerts.push(...(await deps.register.dmarcAlerts(e.tenantId, e.data.feedback_id)));
        }
        alerts.push(...(await counts.observe(e)));
      }
      if (!alerts.length && !counts.pending) return;
      return {
        write: async (tx) => {
          await counts.write(tx);
          await raiseAlerts(tx, alerts, deps.clock.now());
        },
      };
    },
    ...(deps.log ? { log: deps.log } : {}),
  });
}
