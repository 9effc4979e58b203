/**
 * Warmup: a new egress pool (a new IP) earns its volume at each mailbox provider day by day.
 *
 * ```
 *   first admission to a provider          every admission: today's count + n ≤ schedule[day]
 *   ─────────────────────────────► warming ──────────────────────────────────────────────► sent
 *                                    │  │      otherwise: refused; the lane's next pool (a warm
 *                                    │  │      one) takes the excess, or the mail waits for tomorrow
 *                                    │  └─ day ≥ graduation.minDays, delivered ≥ minDelivered,
 *                                    │     complaint and hard-bounce rates (7 d) under their lines
 *                                    ▼
 *                                 graduated (no warmup cap; a `warmup.changed` event)
 * ```
 * Pools opt in (`delivery.pools.<name>.warmup: true`). The schedule is data (rules/warmup.yaml: daily
 * caps per provider, `default` for the rest) scaled by `delivery.warmup.scale`. Days are UTC days
 * counted from the pool's first admission at that provider. The daily count lives in the store
 * (`warmup_usage`), taken atomically per admission, so several delivery nodes never pass a cap
 * between them. The graduation numbers (deliveries, complaint and hard-bounce rates) come from the
 * reputation ledger through the injected `stats`; graduation is checked once per pool × provider
 * per day, at its first admission that day. Overflow never leaves the lane: the delivery policy
 * tries only the stream's own pools (egress-pools.ts).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { type Clock, isoTime, type NewEvent, newEvent } from '../core/index.js';
import type { Store, WarmupPoolRow } from '../store/index.js';

const DAY_MS = 86_400_000;

export interface WarmupGraduation {
  /** Full days of warmup before a pool may graduate at a provider. */
  minDays: number;
  /** Deliveries from the pool to the provider (ledger, lifetime) before it may graduate. Scaled. */
  minDelivered: number;
  /** 7-day complaints ÷ delivered must be at or below this. */
  maxComplaintRate: number;
  /** 7-day hard bounces ÷ (delivered + bounced) must be at or below this. */
  maxHardBounceRate: number;
}

export interface WarmupRules {
  version: string;
  /** Daily caps per provider key, day 1 first; `default` for providers not named. */
  schedules: Record<string, number[]>;
  graduation: WarmupGraduation;
}

export function defaultWarmupRulesPath(): string {
  return fileURLToPath(new URL('../../rules/warmup.yaml', import.meta.url));
}

export function loadWarmupRules(path = defaultWarmupRulesPath()): WarmupRules {
  return parseWarmupRules(readFileSync(path, 'utf8'), path);
}

export function parseWarmupRules(text: string, source = 'warmup rules'): WarmupRules {
  const fail = (path: string, msg: string): never => {
    throw new Error(`${source}: ${path}: ${msg}`);
  };
  const doc = parseYaml(text) as Record<string, unknown> | null;
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) return fail('/', 'expected a mapping with version, schedules and graduation');
  for (const k of Object.keys(doc)) if (!['version', 'schedules', 'graduation'].includes(k)) fail(k, 'unknown field');
  if (typeof doc.version !== 'string' || !/^\d{4}\.\d{1,2}\.\d+$/.test(doc.version)) return fail('version', 'expected YYYY.M.N');
  const s = doc.schedules as Record<string, unknown> | undefined;
  if (!s || typeof s !== 'object' || Array.isArray(s)) return fail('schedules', 'expected a mapping of provider → daily caps');
  const schedules: Record<string, number[]> = {};
  for (const [provider, caps] of Object.entries(s)) {
    if (!Array.isArray(caps) || !caps.length || !caps.every((n) => Number.isInteger(n) && n > 0))
      return fail(`schedules.${provider}`, 'expected a list of positive whole daily caps');
    for (let i = 1; i < caps.length; i++) if (caps[i] < caps[i - 1]) fail(`schedules.${provider}[${i}]`, 'a schedule never shrinks');
    schedules[provider.toLowerCase()] = caps as number[];
  }
  if (!schedules.default) fail('schedules.default', 'required: the schedule of providers not named');
  const g = doc.graduation as Record<string, unknown> | undefined;
  if (!g || typeof g !== 'object') return fail('graduation', 'expected a mapping');
  const keys = ['minDays', 'minDelivered', 'maxComplaintRate', 'maxHardBounceRate'] as const;
  for (const k of Object.keys(g)) if (!(keys as readonly string[]).includes(k)) fail(`graduation.${k}`, 'unknown field');
  const num = (k: (typeof keys)[number], max?: number): number => {
    const v = g[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || (max !== undefined && v > max))
      return fail(`graduation.${k}`, `expected a number ≥ 0${max !== undefined ? ` and ≤ ${max}` : ''}`);
    return v;
  };
  return {
    version: doc.version,
    schedules,
    graduation: {
      minDays: num('minDays'),
      minDelivered: num('minDelivered'),
      maxComplaintRate: num('maxComplaintRate', 1),
      maxHardBounceRate: num('maxHardBounceRate', 1),
    },
  };
}

/** What the ledger knows of a pool at a provider: lifetime deliveries and 7-day rates. */
export interface WarmupStats {
  delivered: number;
  complaintRate: number | null;
  hardBounceRate: number | null;
}

export type WarmupGate = { ok: true } | { ok: false; retryAt: number; reason: string };

export interface WarmupSnapshot {
  pool: string;
  provider: string;
  state: 'warming' | 'graduated';
  startedAt: number;
  graduatedAt: number | null;
  /** 1-based day of the schedule today (UTC). */
  day: number;
  capToday: number | null;
  sentToday: number;
  reason: string;
}

export interface Warmup {
  readonly enabled: boolean;
  readonly version: string;
  isWarming(pool: string): boolean;
  /** Takes `n` recipients of today's cap of a warming pool at a provider. */
  take(o: { pool: string; provider: string | undefined; tenantId: string; n: number }): Promise<WarmupGate>;
  snapshot(): Promise<WarmupSnapshot[]>;
}

export function createWarmup(deps: {
  clock: Clock;
  store: Pick<Store, 'warmup'>;
  rules: WarmupRules;
  enabled: boolean;
  /** Caps and minDelivered are multiplied by this (whole numbers, at least 1). */
  scale: number;
  warmingPools: readonly string[];
  stats: (pool: string, provider: string) => Promise<WarmupStats>;
  emit: (events: NewEvent[]) => void;
}): Warmup {
  const { clock, store, rules } = deps;
  const warming = new Set(deps.warmingPools);
  /** Rows read, and the day graduation was last checked, per `pool|provider`. */
  const rows = new Map<string, WarmupPoolRow>();
  const checkedDay = new Map<string, number>();
  const scaled = (n: number) => Math.max(1, Math.ceil(n * deps.scale));
  const scheduleOf = (provider: string) => rules.schedules[provider] ?? rules.schedules.default!;
  const dayOf = (at: number) => Math.floor(at / DAY_MS);
  const dayIndex = (row: WarmupPoolRow, at: number) => dayOf(at) - dayOf(row.startedAt);
  const capOn = (provider: string, index: number) => {
    const s = scheduleOf(provider);
    return scaled(s[Math.min(index, s.length - 1)]!);
  };

  const event = (row: WarmupPoolRow, change: 'started' | 'graduated', tenantId: string, o: { reason: string; stats?: WarmupStats }) =>
    newEvent(
      'warmup.changed',
      { tenantId, messageId: null },
      {
        change,
        pool: row.pool,
        provider: row.provider,
        ruleset_version: rules.version,
        day: dayIndex(row, clock.now()) + 1,
        cap: change === 'graduated' ? null : capOn(row.provider, dayIndex(row, clock.now())),
        delivered: o.stats?.delivered ?? null,
        complaint_rate: o.stats?.complaintRate ?? null,
        hard_bounce_rate: o.stats?.hardBounceRate ?? null,
        reason: o.reason,
        started_at: isoTime(row.startedAt),
      },
    );

  async function rowOf(pool: string, provider: string, tenantId: string): Promise<WarmupPoolRow> {
    const key = `${pool}|${provider}`;
    const hit = rows.get(key);
    if (hit) return hit;
    const now = clock.now();
    let row = await store.warmup.get(pool, provider);
    if (!row) {
      row = await store.warmup.start(pool, provider, now);
      if (row.startedAt === now)
        deps.emit([event(row, 'started', tenantId, { reason: `first admission of ${pool} at ${provider}: day 1 of the schedule` })]);
    }
    rows.set(key, row);
    return row;
  }

  /** Graduates the pool at the provider when every line holds; once per day. */
  async function maybeGraduate(row: WarmupPoolRow, tenantId: string): Promise<void> {
    const key = `${row.pool}|${row.provider}`;
    const now = clock.now();
    const index = dayIndex(row, now);
    const g = rules.graduation;
    if (index < g.minDays || checkedDay.get(key) === dayOf(now)) return;
    checkedDay.set(key, dayOf(now));
    const stats = await deps.stats(row.pool, row.provider);
    const minDelivered = g.minDelivered > 0 ? scaled(g.minDelivered) : 0;
    const fails = [
      stats.delivered < minDelivered ? `${stats.delivered} of ${minDelivered} deliveries` : '',
      (stats.complaintRate ?? 0) > g.maxComplaintRate ? `complaint rate ${pct(stats.complaintRate!)} above ${pct(g.maxComplaintRate)}` : '',
      (stats.hardBounceRate ?? 0) > g.maxHardBounceRate
        ? `hard-bounce rate ${pct(stats.hardBounceRate!)} above ${pct(g.maxHardBounceRate)}`
        : '',
    ].filter(Boolean);
    if (fails.length) {
      row.reason = `day ${index + 1}: not graduated (${fails.join('; ')})`;
      return;
    }
    const reason = `graduated on day ${index + 1}: ${stats.delivered} deliveries (≥ ${minDelivered}), complaint rate ${pct(stats.complaintRate ?? 0)} (≤ ${pct(g.maxComplaintRate)}), hard-bounce rate ${pct(stats.hardBounceRate ?? 0)} (≤ ${pct(g.maxHardBounceRate)}) over 7 days`;
    await store.warmup.graduate(row.pool, row.provider, now, reason);
    row.graduatedAt = now;
    row.reason = reason;
    deps.emit([event(row, 'graduated', tenantId, { reason, stats })]);
  }

  return {
    enabled: deps.enabled,
    version: rules.version,
    isWarming: (pool) => deps.enabled && warming.has(pool),

    async take(o) {
      if (!deps.enabled || !warming.has(o.pool)) return { ok: true };
      const provider = o.provider ?? 'other';
      const row = await rowOf(o.pool, provider, o.tenantId);
      if (row.graduatedAt === null) await maybeGraduate(row, o.tenantId);
      if (row.graduatedAt !== null) return { ok: true };
      const now = clock.now();
      const index = dayIndex(row, now);
      const cap = capOn(provider, index);
      if (await store.warmup.take({ pool: o.pool, provider, day: dayOf(now), n: o.n, cap })) return { ok: true };
      return {
        ok: false,
        retryAt: (dayOf(now) + 1) * DAY_MS,
        reason: `warmup of ${o.pool} at ${provider}: day ${index + 1} cap of ${cap} reached (rules/warmup.yaml ${rules.version})`,
      };
    },

    async snapshot() {
      const now = clock.now();
      const out: WarmupSnapshot[] = [];
      for (const stored of await store.warmup.list()) {
        if (!warming.has(stored.pool)) continue;
        const row = rows.get(`${stored.pool}|${stored.provider}`) ?? stored;
        const index = dayIndex(row, now);
        const graduated = row.graduatedAt !== null;
        out.push({
          pool: row.pool,
          provider: row.provider,
          state: graduated ? 'graduated' : 'warming',
          startedAt: row.startedAt,
          graduatedAt: row.graduatedAt,
          day: index + 1,
          capToday: graduated ? null : capOn(row.provider, index),
          sentToday: await store.warmup.usage(row.pool, row.provider, dayOf(now)),
          reason: row.reason,
        });
      }
      return out;
    },
  };
}

const pct = (x: number) => `${(x * 100).toFixed(2)} %`;
