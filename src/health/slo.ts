import type { Clock } from '../core/index.js';
import type { Store } from '../store/index.js';
import type { ApiAvailability } from './api-availability.js';

/**
 * Service level objectives, measured (docs/dashboard.md#slos). Four SLIs:
 * - `queue_drain`: queue depth over the last minute's delivery rate, now; objective: at most N s.
 * - `acceptance`: of the recipients accepted in the window that had X seconds to go (or already
 *   went), the share a provider accepted (2xx) within X s. A deferred-then-delivered recipient whose
 *   retry came later than X counts as bad, as does one still waiting after X.
 * - `retry`: of the recipients deferred in the window that had Y minutes to recover (or did), the
 *   share delivered within Y minutes of their first deferral there.
 * - `api_availability`: the share of this node's API requests not answered with a 5xx.
 * The error budget left is 1 − (bad share ÷ allowed bad share): 1 untouched, 0 spent, below 0 overspent.
 */
export interface SloObjectives {
  windowHours: number;
  acceptanceSeconds: number;
  acceptanceObjective: number;
  retryMinutes: number;
  retryObjective: number;
  drainSeconds: number;
  availabilityObjective: number;
}

export interface QueueNow {
  depth: number;
  /** Depth over the last minute's delivery rate; null when nothing was delivered (infinite). 0 when empty. */
  timeToDrainSeconds: number | null;
}

export type SliName = 'queue_drain' | 'acceptance' | 'retry' | 'api_availability';

export interface Sli {
  name: SliName;
  description: string;
  /** Seconds (queue_drain) or a ratio 0..1; null when there is nothing to measure yet. */
  value: number | null;
  unit: 'seconds' | 'ratio';
  objective: number;
  /** Good events and all counted events (ratio SLIs). */
  good: number | null;
  total: number | null;
  errorBudgetRemaining: number | null;
  status: 'met' | 'breached' | 'no_data';
}

export interface SloReport {
  at: number;
  windowHours: number;
  slis: Sli[];
}

/** Rows read per SLI at most: beyond, the SLI is measured on the oldest part of the window. */
const SAMPLE_LIMIT = 200_000;

export function createSlo(deps: {
  store: Pick<Store, 'outcomes'>;
  clock: Clock;
  objectives: SloObjectives;
  queue: () => Promise<QueueNow>;
  availability: ApiAvailability;
}) {
  const o = deps.objectives;
  return {
    objectives: o,
    /** The SLIs now; `tenantId` narrows the acceptance and retry SLIs to one tenant's mail. */
    async report(tenantId?: string): Promise<SloReport> {
      const now = deps.clock.now();
      const from = now - o.windowHours * 3_600_000;
      const xMs = o.acceptanceSeconds * 1000;
      const yMs = o.retryMinutes * 60_000;
      const [queue, accepted, retried] = await Promise.all([
        deps.queue(),
        deps.store.outcomes.acceptanceSample({ tenantId, from, to: now + 1, limit: SAMPLE_LIMIT }),
        deps.store.outcomes.retrySample({ tenantId, from, to: now + 1, limit: SAMPLE_LIMIT }),
      ]);
      // Decided: delivered, or given its full X (Y) and still not delivered in time.
      const acc = accepted.filter((a) => a.deliveredAt !== null || a.acceptedAt <= now - xMs);
      const accGood = acc.filter((a) => a.deliveredAt !== null && a.deliveredAt - a.acceptedAt <= xMs).length;
      const ret = retried.filter((r) => r.deliveredAt !== null || r.firstDeferredAt <= now - yMs);
      const retGood = ret.filter((r) => r.deliveredAt !== null && r.deliveredAt - r.firstDeferredAt <= yMs).length;
      const api = deps.availability.since(from);
      const drain = queue.depth === 0 ? 0 : queue.timeToDrainSeconds;
      return {
        at: now,
        windowHours: o.windowHours,
        slis: [
          {
            name: 'queue_drain',
            description: `Time to drain the queue at the last minute's delivery rate; objective at most ${o.drainSeconds} s.`,
            value: drain,
            unit: 'seconds',
            objective: o.drainSeconds,
            good: null,
            total: null,
            errorBudgetRemaining: null,
            status: drain !== null && drain <= o.drainSeconds ? 'met' : 'breached',
          },
          ratioSli(
            'acceptance',
            `Share of recipients a provider accepted within ${o.acceptanceSeconds} s of our acceptance.`,
            accGood,
            acc.length,
            o.acceptanceObjective,
          ),
          ratioSli(
            'retry',
            `Share of deferred recipients delivered within ${o.retryMinutes} min of their first deferral.`,
            retGood,
            ret.length,
            o.retryObjective,
          ),
          ratioSli(
            'api_availability',
            'Share of API (/v1) requests on this node not answered with a 5xx.',
            api.total - api.errors,
            api.total,
            o.availabilityObjective,
          ),
        ],
      };
    },
  };
}

export type Slo = ReturnType<typeof createSlo>;

function ratioSli(name: SliName, description: string, good: number, total: number, objective: number): Sli {
  if (total === 0) {
    return { name, description, value: null, unit: 'ratio', objective, good, total, errorBudgetRemaining: 1, status: 'no_data' };
  }
  const value = good / total;
  const allowed = 1 - objective;
  const bad = 1 - value;
  const errorBudgetRemaining = allowed > 0 ? 1 - bad / allowed : bad === 0 ? 1 : 0;
  return {
    name,
    description,
    value,
    unit: 'ratio',
    objective,
    good,
    total,
    errorBudgetRemaining,
    status: value >= objective ? 'met' : 'breached',
  };
}
