import { type Counts, ratesOf } from './windows.js';

/**
 * The state of a ledger key, decided from its windows by thresholds (config `reputation.*`; the
 * complaint lines are Gmail's and Yahoo's published 0.1 % and 0.3 %). Worst first: a key that
 * breaks a pause line is `paused` whatever else holds. A rate decides only once its window holds
 * `minVolume` attempts (or deliveries for complaint rates), so three early messages cannot pause a
 * sender. `warming` is the quiet state of a key that has not yet delivered `warmupDeliveries`.
 */
export type ReputationState = 'healthy' | 'watch' | 'throttled' | 'paused' | 'warming';
export const REPUTATION_STATES: readonly ReputationState[] = ['healthy', 'watch', 'throttled', 'paused', 'warming'];

export interface Thresholds {
  complaintRateWatch: number;
  complaintRatePause: number;
  hardBounceRateWatch: number;
  hardBounceRateThrottle: number;
  blockRateThrottle: number;
  throttlingRateThrottle: number;
  baselineFactor: number;
  minVolume: number;
  warmupDeliveries: number;
}

/** Why a key is in its state: the rule and the numbers that decided it. */
export interface Assessment {
  state: ReputationState;
  /** Stable rule id: complaint-rate-pause, throttling-rate, block-rate, hard-bounce-rate-throttle, … */
  rule: string;
  reason: string;
  metric: string | null;
  /** 1h or 24h; a ledger rule's own window (5m, 1h, 1d) for a hold. */
  window: string | null;
  value: number | null;
  threshold: number | null;
  count: number | null;
  denominator: number | null;
}

const pct = (x: number) => `${(x * 100).toFixed(2)} %`;

interface Check {
  state: ReputationState;
  rule: string;
  metric: 'complaint_rate' | 'throttling_rate' | 'block_rate' | 'hard_bounce_rate';
  window: '1h' | '24h';
  threshold: number;
}

function numbers(c: Counts, metric: Check['metric']): { count: number; denominator: number } {
  switch (metric) {
    case 'complaint_rate':
      return { count: c.complaints, denominator: c.delivered };
    case 'throttling_rate':
      return { count: c.throttled, denominator: c.attempts };
    case 'block_rate':
      return { count: c.blocked, denominator: c.attempts };
    case 'hard_bounce_rate':
      return { count: c.hard_bounces, denominator: c.delivered + c.bounced };
    default: {
      const never: never = metric;
      throw new Error(`unknown metric ${never}`);
    }
  }
}

export function assess(w: { '1h': Counts; '24h': Counts; baseline: Counts }, deliveredTotal: number, t: Thresholds): Assessment {
  const checks: Check[] = [
    { state: 'paused', rule: 'complaint-rate-pause', metric: 'complaint_rate', window: '24h', threshold: t.complaintRatePause },
    { state: 'throttled', rule: 'throttling-rate', metric: 'throttling_rate', window: '1h', threshold: t.throttlingRateThrottle },
    { state: 'throttled', rule: 'block-rate', metric: 'block_rate', window: '24h', threshold: t.blockRateThrottle },
    {
      state: 'throttled',
      rule: 'hard-bounce-rate-throttle',
      metric: 'hard_bounce_rate',
      window: '24h',
      threshold: t.hardBounceRateThrottle,
    },
    { state: 'watch', rule: 'complaint-rate-watch', metric: 'complaint_rate', window: '24h', threshold: t.complaintRateWatch },
    { state: 'watch', rule: 'hard-bounce-rate-watch', metric: 'hard_bounce_rate', window: '24h', threshold: t.hardBounceRateWatch },
  ];
  for (const ch of checks) {
    const c = w[ch.window];
    const { count, denominator } = numbers(c, ch.metric);
    if (denominator < t.minVolume || count === 0) continue;
    const value = count / denominator;
    if (value >= ch.threshold) {
      return {
        state: ch.state,
        rule: ch.rule,
        reason: `${ch.metric.replace(/_/g, ' ')} ${pct(value)} over ${ch.window} (${count} of ${denominator}) is at or above ${pct(ch.threshold)}`,
        metric: ch.metric,
        window: ch.window,
        value,
        threshold: ch.threshold,
        count,
        denominator,
      };
    }
  }
  // The roadmap's rule: a complaint rate that doubles its trailing 7-day baseline is flagged.
  const now = ratesOf(w['24h']).complaint_rate;
  const base = ratesOf(w.baseline).complaint_rate;
  if (now !== null && base !== null && base > 0 && w['24h'].delivered >= t.minVolume && w.baseline.delivered >= t.minVolume) {
    if (now >= t.baselineFactor * base) {
      return {
        state: 'watch',
        rule: 'complaint-rate-baseline',
        reason: `complaint rate ${pct(now)} over 24h is ${(now / base).toFixed(1)}× its 7-day baseline ${pct(base)}`,
        metric: 'complaint_rate',
        window: '24h',
        value: now,
        threshold: t.baselineFactor * base,
        count: w['24h'].complaints,
        denominator: w['24h'].delivered,
      };
    }
  }
  if (deliveredTotal < t.warmupDeliveries) {
    return {
      state: 'warming',
      rule: 'warmup',
      reason: `${deliveredTotal} of ${t.warmupDeliveries} deliveries before this identity counts as warm at this provider`,
      metric: 'delivered',
      window: null,
      value: deliveredTotal,
      threshold: t.warmupDeliveries,
      count: deliveredTotal,
      denominator: null,
    };
  }
  return {
    state: 'healthy',
    rule: 'healthy',
    reason: 'every rate is below its line',
    metric: null,
    window: null,
    value: null,
    threshold: null,
    count: null,
    denominator: null,
  };
}
