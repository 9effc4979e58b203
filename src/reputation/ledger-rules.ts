import type { LedgerKeyParts } from './event-contribution.js';
import { bucketOf, type Cells, cellKey, RESOLUTIONS, type Resolution } from './windows.js';

/**
 * Ledger rules: the rules/pacing.yaml rules whose condition needs the ledger's figures (a rate of
 * complaints, hard bounces, blocks or unsubscribes) and whose action is a pause. Delivery cannot
 * see a complaint (it arrives days later through the MX as an ARF report); the ledger can, so the
 * ledger evaluates them, after every event it counts, at that event's time, and records a *hold*:
 * the identity's stream paused at that provider until the event's time plus the rule's
 * `recovery.afterSeconds`. Delivery reads the holds in force (docs/reputation.md "Holds").
 *
 * The platform hands the rules in as plain data (the pacing rules parser lives in delivery, which
 * the ledger does not import). A rule's match names streams, providers and pools; an empty list
 * matches every one, so a rule meant for the cold lane must say `stream: cold`.
 *
 * The rate: the metric's count over the rule's window ÷ its denominator (delivered for complaints
 * and unsubscribes, delivered + bounced for hard bounces, attempts for blocks) over the longer of
 * the window and 24 h, because a complaint trails its delivery by hours, and Gmail and Yahoo count
 * a spam rate per day. A denominator never counts below its numerator (complaints about mail
 * delivered before the ledger's lookback still count), and it must reach `minVolume`.
 */
export type LedgerMetric = 'complaints' | 'hard_bounces' | 'blocks' | 'unsubscribes';

export interface LedgerRule {
  id: string;
  version: string;
  streams?: readonly string[];
  providers?: readonly string[];
  pools?: readonly string[];
  metric: LedgerMetric;
  /** The rate must be strictly above this (0: any one). */
  above: number;
  windowSeconds: number;
  minVolume: number;
  /** How long the hold lasts from the tipping event. */
  pauseSeconds: number;
}

export interface HoldVerdict {
  rule: string;
  reason: string;
  metric: string;
  window: string;
  value: number;
  threshold: number;
  count: number;
  denominator: number;
  until: number;
}

const DAY_MS = 86_400_000;

/** Sum of one metric over the buckets of `res` covering (at − ms, at]. */
function sumMetric(cells: Cells, metrics: readonly string[], ms: number, at: number, res: Resolution): number {
  const from = bucketOf(at - ms + 1, res);
  const to = bucketOf(at, res);
  let n = 0;
  for (let b = from; b <= to; b += RESOLUTIONS[res]) for (const m of metrics) n += cells.get(cellKey(res, b, m)) ?? 0;
  return n;
}

const NUMERATOR: Record<LedgerMetric, string> = {
  complaints: 'complaints',
  hard_bounces: 'hard_bounces',
  blocks: 'blocked',
  unsubscribes: 'unsubscribes',
};
const DENOMINATOR: Record<LedgerMetric, readonly string[]> = {
  complaints: ['delivered'],
  hard_bounces: ['delivered', 'bounced'],
  blocks: ['attempts'],
  unsubscribes: ['delivered'],
};

const applies = (list: readonly string[] | undefined, v: string) => !list?.length || list.includes(v);
const windowName = (s: number) =>
  s % 86_400 === 0 ? `${s / 86_400}d` : s % 3600 === 0 ? `${s / 3600}h` : s % 60 === 0 ? `${s / 60}m` : `${s}s`;

/** The first rule (in file order) whose condition holds for a key at `at`, as a hold. */
export function evaluateLedgerRules(
  rules: readonly LedgerRule[],
  parts: LedgerKeyParts,
  cells: Cells,
  at: number,
): HoldVerdict | undefined {
  for (const r of rules) {
    if (!applies(r.streams, parts.stream) || !applies(r.providers, parts.provider) || !applies(r.pools, parts.pool)) continue;
    const ms = r.windowSeconds * 1000;
    // The 5-minute buckets are kept two hours; longer windows read the hourly ones.
    const res: Resolution = ms <= 3_600_000 ? '5m' : '1h';
    const count = sumMetric(cells, [NUMERATOR[r.metric]], ms, at, res);
    if (count === 0) continue;
    const denominator = Math.max(count, sumMetric(cells, DENOMINATOR[r.metric], Math.max(ms, DAY_MS), at, '1h'));
    if (denominator < r.minVolume) continue;
    const value = count / denominator;
    if (value <= r.above) continue;
    const pct = (x: number) => `${(x * 100).toFixed(2)} %`;
    return {
      rule: r.id,
      reason: `${r.metric.replace(/_/g, ' ')} ${count} in ${windowName(r.windowSeconds)} (${pct(value)} of ${denominator}) is above ${pct(r.above)} (rules/pacing.yaml ${r.version}); paused at ${parts.provider} until ${new Date(at + r.pauseSeconds * 1000).toISOString()}`,
      metric: r.metric,
      window: windowName(r.windowSeconds),
      value,
      threshold: r.above,
      count,
      denominator,
      until: at + r.pauseSeconds * 1000,
    };
  }
  return undefined;
}
