import type { Clock, NewEvent } from '../core/index.js';
import type { Store } from '../store/index.js';
import { type Alert, raiseAlerts } from './alerts.js';
import { type AuthFailure, createAnomalyDetector } from './anomalies.js';
import type { AnomalyRuleset } from './anomaly-rules.js';

/**
 * Failed authentications from the edges (SMTP AUTH with an unknown key, unknown or throttled API
 * keys, refused password sign-ins), on their way to the anomaly detector's auth-failure-burst rule.
 *
 * Design. A brute-force flood is exactly when the store must not take one write per attempt, so
 * `record` only adds to a count in memory, per (tenant, address, way in), and returns at once. A
 * flush, `flushMs` after the first failure it carries, writes every count of the interval in one
 * transaction: one upsert per address into `anomaly_counts` (which every node of a cluster adds to,
 * so the rule sees the cluster's total), a read of the window, and the alerts that trip, each once
 * per mark. A flood from one address costs one small transaction per `flushMs`; one from many
 * addresses is bounded by `maxAddresses` per interval (the rest are counted as dropped and logged).
 * The throttles (src/access/throttle.ts, the SMTP per-session limit) still refuse the guesses
 * themselves; this only sees them. Counts of a failed flush go back into memory for the next one.
 */
export interface AuthFailureTallyDeps {
  store: Pick<Store, 'transaction'>;
  clock: Clock;
  rules: AnomalyRuleset;
  /** How long failures gather in memory before they are written (default 1000 ms). */
  flushMs?: number;
  /** Distinct (tenant, address, way in) held per interval (default 10 000). */
  maxAddresses?: number;
  log?: { warn(obj: object, msg: string): void };
}

interface Pending extends AuthFailure {
  n: number;
  /** Time of the last failure counted. */
  at: number;
}

export function createAuthFailureTally(deps: AuthFailureTallyDeps) {
  const { store, clock, rules } = deps;
  const flushMs = deps.flushMs ?? 1000;
  const maxAddresses = deps.maxAddresses ?? 10_000;
  let pending = new Map<string, Pending>();
  let dropped = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  /** Flushes run one after another, so two never count the same failures. */
  let chain: Promise<unknown> = Promise.resolve();

  function add(f: AuthFailure, n: number, at: number): void {
    const key = `${f.tenantId ?? ''}|${f.via}|${f.address}`;
    const hit = pending.get(key);
    if (hit) {
      hit.n += n;
      hit.at = Math.max(hit.at, at);
    } else if (pending.size >= maxAddresses) dropped += n;
    else pending.set(key, { ...f, n, at });
  }

  function schedule(): void {
    if (timer || !pending.size) return;
    timer = setTimeout(() => {
      timer = undefined;
      void flush();
    }, flushMs);
    timer.unref?.();
  }

  async function write(batch: Pending[]): Promise<NewEvent[]> {
    if (!batch.length) return [];
    return store.transaction(async (tx) => {
      const detector = createAnomalyDetector({ store: tx, rules });
      const alerts: Alert[] = [];
      for (const f of batch) alerts.push(...(await detector.authFailed(f)));
      return raiseAlerts(tx, alerts, clock.now());
    });
  }

  /** Writes what has gathered; answers the alert events it appended. Never throws. */
  function flush(): Promise<NewEvent[]> {
    if (timer) clearTimeout(timer);
    timer = undefined;
    const run = chain.then(async () => {
      const batch = [...pending.values()];
      pending = new Map();
      if (dropped) {
        deps.log?.warn({ dropped, maxAddresses }, 'failed authentications from too many addresses at once; some were not counted');
        dropped = 0;
      }
      try {
        return await write(batch);
      } catch (err) {
        deps.log?.warn({ err, addresses: batch.length }, 'counting failed authentications failed; retrying with the next flush');
        for (const f of batch) add(f, f.n, f.at);
        schedule();
        return [];
      }
    });
    chain = run;
    return run;
  }

  return {
    /** One failed authentication; counted in memory, written with the next flush. */
    record(f: AuthFailure): void {
      add(f, 1, clock.now());
      schedule();
    },
    flush,
    /** Stops the timer and writes what is left (platform stop). */
    async close(): Promise<void> {
      await flush();
      if (timer) clearTimeout(timer);
      timer = undefined;
    },
  };
}

export type AuthFailureTally = ReturnType<typeof createAuthFailureTally>;
