import type { Clock, SmtpResponse } from '../core/index.js';
import type { Breaker, BreakerSnapshot } from './breaker.js';
import type { DeliveryHealth } from './delivery-health.js';
import type { EgressPools, Lane } from './egress-pools.js';
import type { PaceSnapshot, PacingController } from './pacing.js';
import type { ReputationHolds } from './reputation-holds.js';
import { destinationKey, type Shaper, siteOfKey } from './shaper.js';
import type { Warmup } from './warmup.js';

/**
 * The one question delivery asks before a transaction: may this mail go to this site now, from
 * which pool and source address, and under what connection limits? Delivery declares the
 * interface; the default implementation composes the pieces that answer it today (egress pools and
 * lanes, the circuit breaker, the pacing controller fed by rules/pacing.yaml, and the static
 * shaping limits). The reputation ledger can later stand in front of it without delivery changing.
 *
 * Breakers and pace are kept per identity × site, where delivery's identity is the egress pool: the
 * source IP is what receivers rate-limit and judge. The key is `pool|site` (shaper.destinationKey).
 * Admission tries the stream's pools in order and takes the first that may send; a stream's mail
 * never leaves from a pool of another lane (egress-pools.ts). A message whose classification policy
 * names a configured pool is admitted from that pool alone, and the lane names the policy (`rule`).
 *
 * Two more answers come from reputation. A hold (the ledger paused this identity's stream at the
 * provider: a complaint in the cold lane, a complaint rate over 0.3 %) refuses the stream from every
 * pool until it ends. Warmup: a warming pool takes the day's share its schedule allows, and is
 * tried first in its lane so it earns its volume; the excess moves on to the lane's other pools
 * (the warm ones) or waits for the next day.
 */
export interface PolicyRequest {
  site: string;
  provider: string | undefined;
  stream: string;
  tenantId: string;
  /** Sending domain (the From address's): what a reputation hold names. */
  domain?: string;
  /** Recipients in the transaction: what a warmup schedule counts (1 when not given). */
  recipients?: number;
  /**
   * The pool the message's classification policy names, and that policy's id (recorded at accept;
   * docs/classification.md): it replaces the stream's lane when the pool is configured.
   */
  policyPool?: { pool: string; rule: string | null };
}

export type LocalThrottle = 'breaker' | 'rate' | 'paused' | 'held' | 'warmup';

export type Admission =
  | { ok: true; key: string; lane: Lane }
  | { ok: false; key: string; lane: Lane; retryAt: number; reason: string; throttle: LocalThrottle };

/** What came of a transaction (or of a failed connection) that the policy admitted. */
export interface AttemptReport {
  key: string;
  request: PolicyRequest;
  /** Breaker outcome; `tls-policy` failures say nothing about the site and are not reported. */
  outcome: 'success' | 'failure' | 'throttled';
  /** The replies of the attempt (one per recipient, or the refused greeting). */
  replies: SmtpResponse[];
  /** The classifier categories of those replies, where they were classified. */
  categories: string[];
}

export interface ConnectionLimits {
  maxConnections: number;
  maxMessagesPerConnection: number;
}

export interface DeliveryPolicy {
  admit(request: PolicyRequest): Promise<Admission>;
  /** Connection limits of a `pool|site` key, pacing caps applied; read on every connection acquire. */
  limits(key: string): ConnectionLimits;
  /** Checked again after waiting for a connection: a breaker that opened meanwhile, or a pause. */
  stillOpen(key: string): { ok: true } | { ok: false; retryAt: number | undefined; reason: string; throttle: LocalThrottle };
  report(r: AttemptReport): void;
}

/** What operators see and change (GET /v1/delivery/health, POST …/pause|resume|reset, the CLI). */
export interface DeliveryControl {
  health(): Promise<DeliveryHealth>;
  /** A site name or a provider key, optionally one pool; each call is one `pacing.changed` event. */
  pause(o: OverrideRequest & { minutes?: number }): Promise<void>;
  resume(o: OverrideRequest): Promise<void>;
  /** Clears pace, windows, overrides and breakers of the target. */
  reset(o: OverrideRequest): Promise<void>;
}

export interface OverrideRequest {
  target: string;
  pool: string | null;
  reason: string;
  actor: string;
  tenantId: string;
}

const SHARED_COUNTER_RETRY_MS = 5000;

export interface DeliveryPolicyDeps {
  clock: Clock;
  pools: EgressPools;
  breaker: Breaker;
  shaper: Shaper;
  /** Disabled (delivery.pacing.enabled false): the static shaping numbers and overrides alone. */
  pacing: PacingController;
  log?: { warn(obj: object, msg: string): void };
  /** The reputation ledger's holds (rules/pacing.yaml ledger rules); none: nothing is held. */
  holds?: ReputationHolds;
  /** Warmup schedules of warming pools (rules/warmup.yaml); none: no pool warms. */
  warmup?: Warmup;
  /** A breaker changed: `site` is the key's site, for the per-site gauge. */
  onBreaker?: (site: string, snapshot: BreakerSnapshot) => void;
}

export function createDeliveryPolicy(deps: DeliveryPolicyDeps): DeliveryPolicy & DeliveryControl {
  const { clock, shaper, breaker, pacing } = deps;

  /** 0 when one message may go now, else ms to wait: this node's buckets, then the cluster's windows. */
  async function takeRate(key: string): Promise<number> {
    const wait = shaper.take(key, 1);
    if (wait > 0 || !shaper.shared) return wait;
    try {
      return await shaper.takeShared(key, 1);
    } catch (e) {
      // An unreachable cluster counter holds the site back briefly rather than let every node send at full rate.
      deps.log?.warn({ err: e, key }, 'shared rate counter unavailable; deferring');
      return SHARED_COUNTER_RETRY_MS;
    }
  }

  async function admitPool(pool: string, request: PolicyRequest, rule?: string): Promise<Admission> {
    const key = destinationKey(request.site, pool);
    const lane = { ...deps.pools.laneOf(pool), ...(rule ? { rule } : {}) };
    const refuse = (retryAt: number, reason: string, throttle: LocalThrottle): Admission => ({
      ok: false,
      key,
      lane,
      retryAt,
      reason,
      throttle,
    });
    const paced = pacing.gate(key, { pool, ...request });
    if (!paced.ok && paced.throttle === 'paused') return refuse(paced.retryAt, paced.reason, 'paused');
    const gate = breaker.allow(key);
    if (!gate.ok) return refuse(gate.retryAt, gate.reason, 'breaker');
    if (!paced.ok) return refuse(paced.retryAt, paced.reason, paced.throttle);
    const wait = await takeRate(key);
    if (wait > 0) return refuse(clock.now() + wait, `rate limit of ${pool} at ${request.site} reached`, 'rate');
    if (deps.warmup) {
      const w = await deps.warmup.take({ pool, provider: request.provider, tenantId: request.tenantId, n: request.recipients ?? 1 });
      if (!w.ok) return refuse(w.retryAt, w.reason, 'warmup');
    }
    pacing.taken(key);
    return { ok: true, key, lane };
  }

  /** Unknown pool names already logged, so each is said once per process. */
  const unknownPools = new Set<string>();
  /** The classification policy's pool when it is configured; undefined: the stream's lane. */
  function policyLane(request: PolicyRequest): { pool: string; rule?: string } | undefined {
    const p = request.policyPool;
    if (!p) return undefined;
    if (deps.pools.names().includes(p.pool)) return { pool: p.pool, ...(p.rule ? { rule: p.rule } : {}) };
    if (!unknownPools.has(p.pool)) {
      unknownPools.add(p.pool);
      deps.log?.warn(
        { pool: p.pool, rule: p.rule, stream: request.stream },
        "a classification policy names an egress pool that delivery.pools does not configure; its mail leaves from the stream's lane",
      );
    }
    return undefined;
  }

  function limits(key: string): ConnectionLimits {
    const l = shaper.limitsFor(key);
    const cut = pacing.concurrency(key);
    return {
      maxConnections: cut ? Math.min(cut, l.maxConnections) : l.maxConnections,
      maxMessagesPerConnection: l.maxMessagesPerConnection,
    };
  }

  return {
    async admit(request) {
      const chosen = policyLane(request);
      const lanePools = chosen ? [chosen.pool] : deps.pools.poolsFor(request.stream);
      const held = await deps.holds?.find(request);
      if (held) {
        const pool = lanePools[0]!;
        return {
          ok: false,
          key: destinationKey(request.site, pool),
          lane: { ...deps.pools.laneOf(pool), ...(chosen?.rule ? { rule: chosen.rule } : {}) },
          retryAt: held.until,
          reason: `held by the reputation ledger: ${held.reason}`,
          throttle: 'held',
        };
      }
      // Warming pools first, so they earn their schedule; the warm pools of the lane take the excess.
      const warmup = deps.warmup;
      const pools = warmup
        ? [...lanePools.filter((p) => warmup.isWarming(p)), ...lanePools.filter((p) => !warmup.isWarming(p))]
        : lanePools;
      let refused: Admission | undefined;
      // Overflow stays inside the lane: only this stream's pools are tried.
      for (const pool of pools) {
        const a = await admitPool(pool, request, chosen?.rule);
        if (a.ok) return a;
        if (!refused || (!refused.ok && a.retryAt < refused.retryAt)) refused = a;
      }
      return refused!;
    },

    limits,

    stillOpen(key) {
      const b = breaker.state(key);
      if (b.state === 'open')
        return { ok: false, retryAt: b.retryAt ?? undefined, reason: 'circuit opened while waiting for a connection', throttle: 'breaker' };
      const paused = pacing.pausedUntil(key);
      if (paused) return { ok: false, retryAt: paused.retryAt, reason: paused.reason, throttle: 'paused' };
      return { ok: true };
    },

    report(r) {
      const snapshot = breaker.record(r.key, r.outcome);
      deps.onBreaker?.(siteOfKey(r.key), snapshot);
      pacing.observe(r, shaper.limitsFor(r.key).perMinute);
    },

    async health() {
      const paces = new Map(pacing.snapshot().map((p) => [p.key, p]));
      for (const key of breaker.keys()) if (!paces.has(key)) paces.set(key, idlePace(key));
      return {
        pacingEnabled: pacing.enabled,
        rulesetVersion: pacing.version,
        waitingRules: pacing.waitingRules(),
        sites: [...paces.values()]
          .sort((a, b) => a.key.localeCompare(b.key))
          .map((pace) => ({
            pace,
            breaker: breaker.state(pace.key),
            configured: shaper.limitsFor(pace.key),
            effective: limits(pace.key),
          })),
        overrides: pacing.overrides(),
        holds: deps.holds ? await deps.holds.list() : [],
        warmup: deps.warmup ? await deps.warmup.snapshot() : [],
        warmupVersion: deps.warmup?.version ?? null,
      };
    },

    pause: async (o) => void pacing.pause(o),
    resume: async (o) => void pacing.resume(o),
    async reset(o) {
      const keys = new Set([
        ...pacing.reset(o),
        ...breaker.keys().filter((k) => siteOfKey(k) === o.target && (!o.pool || k.startsWith(`${o.pool}|`))),
      ]);
      for (const k of keys) {
        breaker.reset(k);
        deps.onBreaker?.(siteOfKey(k), breaker.state(k));
      }
    },
  };
}

/** A key only the breaker knows: no pace yet. */
function idlePace(key: string): PaceSnapshot {
  const i = key.indexOf('|');
  return {
    key,
    pool: i < 0 ? 'default' : key.slice(0, i),
    site: siteOfKey(key),
    provider: null,
    state: 'healthy',
    perMinute: null,
    ceilingPerMinute: null,
    concurrency: null,
    rule: null,
    why: '',
    since: null,
    nextStepAt: null,
    pausedUntil: null,
    flagged: null,
    attemptsLastMinute: 0,
    throttledLastMinute: 0,
  };
}
