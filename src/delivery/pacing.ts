/**
 * The pacing controller: rules/pacing.yaml applied to what delivery sees, per pool × site.
 *
 * ```
 *              rule condition holds                      quiet for recovery.afterSeconds
 *   healthy ─────────────────────────► throttled (cap) ─────────────────────────────────► stepping
 *      ▲                                 ▲   │ holds again: cap × rateFactor             │ every stepSeconds:
 *      │                                 │   └───────────────────────────────────────────┤ cap × stepFactor,
 *      │                                 └──────────── holds again ──────────────────────┤ concurrency + 1
 *      └────────────────────────── cap reaches its ceiling: recovered ───────────────────┘
 *   paused (a rule's pause action until it expires, or an override until resume) blocks every state.
 * ```
 * A cap is an absolute rate (messages per minute) taken from what the key was sending when the rule
 * fired (attempts in the last minute × rateFactor, never below minPerMinute) and enforced by a token
 * bucket; the ceiling it recovers to is the configured perMinute, or that observed rate. Pure over the
 * injected clock (no timers): recovery steps are taken when the key is next looked at, so an idle key
 * costs nothing. Every change of pace is one `pacing.changed` event with the rule id, the ruleset
 * version and the numbers that triggered it; overrides (pause, resume, reset) are events too.
 *
 * State is this node's memory: each delivery node paces what it sends (a cluster-wide view is the
 * reputation ledger's, from the events spine).
 */
import { type Clock, type NewEvent, newEvent, type SmtpResponse } from '../core/index.js';
import type { AttemptReport, PolicyRequest } from './delivery-policy.js';
import { DELIVERY_METRICS, ledgerEvaluates, matchesReply, type PacingRule, type PacingRuleset } from './pacing-rules.js';
import { siteOfKey } from './shaper.js';

export type PacingGate = { ok: true } | { ok: false; retryAt: number; reason: string; throttle: 'paused' | 'rate' };

export type PaceState = 'healthy' | 'throttled' | 'paused';

export type PacingChange = 'cap' | 'step' | 'recovered' | 'pause' | 'resume' | 'flag' | 'reset';

export interface PaceSnapshot {
  key: string;
  pool: string;
  site: string;
  provider: string | null;
  state: PaceState;
  perMinute: number | null;
  ceilingPerMinute: number | null;
  concurrency: number | null;
  rule: string | null;
  why: string;
  since: number | null;
  nextStepAt: number | null;
  pausedUntil: number | null;
  flagged: string | null;
  attemptsLastMinute: number;
  throttledLastMinute: number;
}

export interface PacingOverride {
  /** A site name or a provider key. */
  target: string;
  pool: string | null;
  reason: string;
  actor: string;
  at: number;
  /** Null: until resumed. */
  until: number | null;
}

interface Attempt {
  at: number;
  seq: number;
  throttled: boolean;
  deferred: boolean;
  bounced: boolean;
}

interface Pace {
  key: string;
  pool: string;
  site: string;
  provider: string | undefined;
  tenantId: string;
  perMinute: number | null;
  ceiling: number | null;
  concurrency: number | null;
  rule: PacingRule | null;
  why: string;
  since: number | null;
  lastTriggerAt: number;
  nextStepAt: number | null;
  pausedUntil: number | null;
  flagged: string | null;
  tokens: number;
  tokensAt: number;
  attempts: Attempt[];
  /** Matching replies per reply rule, with a sequence number: evidence is counted after the last action by seq, not time (many can share a millisecond). */
  hits: Map<string, Array<{ at: number; seq: number }>>;
  seq: number;
  /** Per rule: the seq of the last evidence when it last acted. */
  actedSeq: Map<string, number>;
}

export interface PacingController {
  readonly enabled: boolean;
  readonly version: string;
  gate(key: string, request: PolicyRequest & { pool: string }): PacingGate;
  /** An admitted transaction takes one token of a capped key. */
  taken(key: string): void;
  concurrency(key: string): number | null;
  pausedUntil(key: string): { retryAt: number | undefined; reason: string } | null;
  observe(report: AttemptReport, configuredPerMinute: number): void;
  snapshot(): PaceSnapshot[];
  overrides(): PacingOverride[];
  /** Rules validated but fed by the reputation ledger, not evaluated by delivery. */
  waitingRules(): string[];
  pause(o: { target: string; pool: string | null; reason: string; actor: string; tenantId: string; minutes?: number }): number;
  resume(o: { target: string; pool: string | null; reason: string; actor: string; tenantId: string }): number;
  /** Forgets caps, windows and overrides of matching keys; returns the keys reset. */
  reset(o: { target: string; pool: string | null; reason: string; actor: string; tenantId: string }): string[];
}

const MINUTE = 60_000;
const MAX_WINDOW_MS = 3_600_000;
const MAX_ATTEMPTS = 5000;
const MAX_KEYS = 10_000;
const MAX_STEPS = 100;

export function createPacingController(deps: {
  clock: Clock;
  rules: PacingRuleset;
  enabled: boolean;
  emit: (events: NewEvent[]) => void;
}): PacingController {
  const { clock, rules } = deps;
  const paces = new Map<string, Pace>();
  const overrides = new Map<string, PacingOverride>();
  const live = rules.rules.filter((r) => !r.needsLedger);
  const replyRules = live.filter((r) => r.condition.kind === 'replies');
  const rateRules = live.filter((r) => r.condition.kind === 'rate');

  const paceOf = (key: string, ctx?: { pool: string; provider: string | undefined; tenantId: string }): Pace => {
    let p = paces.get(key);
    if (!p) {
      if (paces.size >= MAX_KEYS) prune();
      const now = clock.now();
      p = {
        key,
        pool: ctx?.pool ?? key.slice(0, key.indexOf('|')),
        site: siteOfKey(key),
        provider: ctx?.provider,
        tenantId: ctx?.tenantId ?? '',
        perMinute: null,
        ceiling: null,
        concurrency: null,
        rule: null,
        why: '',
        since: null,
        lastTriggerAt: 0,
        nextStepAt: null,
        pausedUntil: null,
        flagged: null,
        tokens: 0,
        tokensAt: now,
        attempts: [],
        hits: new Map(),
        seq: 0,
        actedSeq: new Map(),
      };
      paces.set(key, p);
    }
    return p;
  };
  const prune = (): void => {
    for (const [k, p] of paces) if (p.perMinute === null && p.pausedUntil === null && !p.flagged) paces.delete(k);
  };

  const change = (
    p: Pace,
    what: PacingChange,
    o: {
      rule: string;
      reason: string;
      trigger?: Record<string, unknown>;
      actor?: string;
      tenantId?: string;
      previous?: { perMinute: number | null; concurrency: number | null };
    },
  ) => {
    const now = clock.now();
    deps.emit([
      newEvent(
        'pacing.changed',
        { tenantId: o.tenantId ?? p.tenantId },
        {
          change: what,
          site: p.site,
          provider: p.provider ?? null,
          pool: p.pool,
          rule: o.rule,
          ruleset_version: rules.version,
          state: stateOf(p, now),
          per_minute: p.perMinute,
          previous_per_minute: o.previous?.perMinute ?? null,
          concurrency: p.concurrency,
          previous_concurrency: o.previous?.concurrency ?? null,
          ceiling_per_minute: p.ceiling,
          next_step_at: p.nextStepAt === null ? null : new Date(p.nextStepAt).toISOString(),
          paused_until: p.pausedUntil === null ? null : new Date(p.pausedUntil).toISOString(),
          trigger: o.trigger ?? null,
          reason: o.reason,
          actor: o.actor ?? null,
        },
      ),
    ]);
  };

  const stateOf = (p: Pace, now: number): PaceState =>
    (p.pausedUntil !== null && now < p.pausedUntil) || overrideFor(p) ? 'paused' : p.perMinute !== null ? 'throttled' : 'healthy';

  const overrideFor = (p: { site: string; pool: string; provider: string | undefined }): PacingOverride | undefined => {
    const now = clock.now();
    for (const o of overrides.values()) {
      if (o.until !== null && now >= o.until) continue;
      if (o.pool && o.pool !== p.pool) continue;
      if (o.target === p.site || (p.provider && o.target === p.provider)) return o;
    }
    return undefined;
  };

  /** Evidence within the window and newer than the rule's last action. */
  const fresh = (xs: ReadonlyArray<{ at: number; seq: number }>, since: number, after: number) => {
    const out: Array<{ at: number; seq: number }> = [];
    for (let i = xs.length - 1; i >= 0 && xs[i]!.at >= since && xs[i]!.seq > after; i--) out.push(xs[i]!);
    return out;
  };
  const lastMinute = (p: Pace, now: number) => {
    let attempts = 0;
    let throttled = 0;
    for (let i = p.attempts.length - 1; i >= 0 && p.attempts[i]!.at > now - MINUTE; i--) {
      attempts++;
      if (p.attempts[i]!.throttled) throttled++;
    }
    return { attempts, throttled };
  };

  /** Takes the recovery steps (and pause expiries) that are due; one event each. */
  const advance = (p: Pace): void => {
    const now = clock.now();
    if (p.pausedUntil !== null && now >= p.pausedUntil) {
      p.pausedUntil = null;
      change(p, 'resume', { rule: p.rule?.id ?? 'pause', reason: 'pause expired' });
    }
    const rule = p.rule;
    if (p.perMinute === null || !rule) return;
    if (p.nextStepAt === null) p.nextStepAt = p.lastTriggerAt + rule.recovery.afterSeconds * 1000;
    for (let i = 0; i < MAX_STEPS && p.perMinute !== null && now >= p.nextStepAt!; i++) {
      const previous = { perMinute: p.perMinute, concurrency: p.concurrency };
      const next = Math.ceil(p.perMinute * rule.recovery.stepFactor);
      if (p.ceiling === null || next >= p.ceiling) {
        p.perMinute = null;
        p.concurrency = null;
        p.rule = null;
        p.nextStepAt = null;
        p.why = '';
        p.since = null;
        change(p, 'recovered', {
          rule: rule.id,
          reason: `quiet since ${new Date(p.lastTriggerAt).toISOString()}: back to full pace`,
          previous,
        });
        return;
      }
      p.perMinute = next;
      if (p.concurrency !== null) p.concurrency += 1;
      p.nextStepAt += rule.recovery.stepSeconds * 1000;
      p.why = `recovering from ${rule.id}: step to ${next}/min`;
      change(p, 'step', { rule: rule.id, reason: p.why, previous });
    }
  };

  const act = (p: Pace, rule: PacingRule, trigger: Record<string, unknown>, configuredPerMinute: number): void => {
    const now = clock.now();
    p.actedSeq.set(rule.id, p.seq);
    const previous = { perMinute: p.perMinute, concurrency: p.concurrency };
    const a = rule.action;
    switch (a.kind) {
      case 'cap': {
        const observed = lastMinute(p, now).attempts;
        const base = p.perMinute ?? Math.max(1, observed);
        const cap = Math.max(a.minPerMinute, Math.floor(base * a.rateFactor));
        p.ceiling = configuredPerMinute > 0 ? configuredPerMinute : Math.max(p.ceiling ?? 0, observed, cap);
        p.perMinute = p.perMinute === null ? cap : Math.min(p.perMinute, cap);
        if (a.concurrency !== undefined) p.concurrency = Math.min(p.concurrency ?? Number.POSITIVE_INFINITY, a.concurrency);
        p.tokens = Math.min(p.tokens, 1);
        p.tokensAt = now;
        p.rule = rule;
        p.lastTriggerAt = now;
        p.nextStepAt = null;
        p.since ??= now;
        p.why = `${rule.id}: ${describe(trigger)}; capped at ${p.perMinute}/min`;
        if (a.flag) p.flagged = rule.id;
        change(p, 'cap', { rule: rule.id, reason: p.why, trigger, previous });
        return;
      }
      case 'pause':
        p.pausedUntil = now + rule.recovery.afterSeconds * 1000;
        p.why = `${rule.id}: ${describe(trigger)}; paused`;
        if (a.flag) p.flagged = rule.id;
        change(p, 'pause', { rule: rule.id, reason: p.why, trigger, previous });
        return;
      case 'flag':
        p.flagged = rule.id;
        change(p, 'flag', { rule: rule.id, reason: `${rule.id}: ${describe(trigger)}; flagged for review`, trigger, previous });
        return;
      default: {
        const never: never = a;
        throw new Error(`unknown pacing action ${String(never)}`);
      }
    }
  };

  const targetKeys = (target: string, pool: string | null): Pace[] =>
    [...paces.values()].filter((p) => (p.site === target || p.provider === target) && (!pool || p.pool === pool));

  return {
    enabled: deps.enabled,
    version: rules.version,

    gate(key, request) {
      const p = paces.get(key);
      const o = overrideFor({ site: request.site, pool: request.pool, provider: request.provider });
      if (o)
        return { ok: false, retryAt: o.until ?? clock.now() + MINUTE, reason: `paused by ${o.actor}: ${o.reason}`, throttle: 'paused' };
      if (!p) return { ok: true };
      advance(p);
      const now = clock.now();
      if (p.pausedUntil !== null) return { ok: false, retryAt: p.pausedUntil, reason: p.why, throttle: 'paused' };
      if (p.perMinute === null) return { ok: true };
      const capacity = Math.max(1, p.perMinute / 6);
      p.tokens = Math.min(capacity, p.tokens + ((now - p.tokensAt) * p.perMinute) / MINUTE);
      p.tokensAt = now;
      if (p.tokens >= 1) return { ok: true };
      const wait = Math.ceil(((1 - p.tokens) * MINUTE) / p.perMinute);
      return { ok: false, retryAt: now + wait, reason: `paced at ${p.perMinute}/min by ${p.rule?.id ?? 'rule'}`, throttle: 'rate' };
    },

    taken(key) {
      const p = paces.get(key);
      if (p && p.perMinute !== null) p.tokens -= 1;
    },

    concurrency: (key) => paces.get(key)?.concurrency ?? null,

    pausedUntil(key) {
      const p = paces.get(key);
      if (!p) return null;
      const o = overrideFor(p);
      if (o) return { retryAt: o.until ?? undefined, reason: `paused by ${o.actor}: ${o.reason}` };
      if (p.pausedUntil !== null && clock.now() < p.pausedUntil) return { retryAt: p.pausedUntil, reason: p.why };
      return null;
    },

    observe(report, configuredPerMinute) {
      if (!deps.enabled) return;
      const now = clock.now();
      const { request } = report;
      const pool = report.key.slice(0, report.key.indexOf('|'));
      const p = paceOf(report.key, { pool, provider: request.provider, tenantId: request.tenantId });
      p.provider ??= request.provider;
      p.tenantId = request.tenantId;
      advance(p);
      p.attempts.push({
        at: now,
        seq: ++p.seq,
        throttled: report.outcome === 'throttled',
        deferred: report.replies.some((r) => r.code >= 400 && r.code < 500),
        bounced: report.replies.some((r) => r.code >= 500),
      });
      while (p.attempts.length > MAX_ATTEMPTS || (p.attempts.length && p.attempts[0]!.at < now - MAX_WINDOW_MS)) p.attempts.shift();
      const ctx = { provider: request.provider, stream: request.stream, pool };
      // Each throttling reply counts for the first reply rule it matches (most specific first).
      report.replies.forEach((reply, i) => {
        const category = report.categories[i];
        // One subject per reply, not one per rule tried: this runs for every delivery attempt.
        const subject = { ...ctx, reply, ...(category ? { category } : {}) };
        const rule = replyRules.find((r) => matchesReply(r.match, subject));
        if (!rule) return;
        const hits = p.hits.get(rule.id) ?? [];
        hits.push({ at: now, seq: ++p.seq });
        while (hits.length > 1000 || (hits.length && hits[0]!.at < now - MAX_WINDOW_MS)) hits.shift();
        p.hits.set(rule.id, hits);
      });
      for (const rule of replyRules) {
        const c = rule.condition;
        if (c.kind !== 'replies') continue;
        const hits = p.hits.get(rule.id);
        if (!hits?.length || hits[hits.length - 1]!.at !== now) continue;
        // Only replies since the rule last acted count again: each further step needs fresh evidence.
        const count = fresh(hits, now - c.windowSeconds * 1000, p.actedSeq.get(rule.id) ?? 0).length;
        if (count >= c.count) {
          const example = report.replies.find((r) => matchesReply(rule.match, { ...ctx, reply: r }));
          act(
            p,
            rule,
            { kind: 'replies', count, window_seconds: c.windowSeconds, ...(example ? { reply: line(example) } : {}) },
            configuredPerMinute,
          );
        }
      }
      const categories = (report.categories.length ? report.categories : [undefined]).map((category) => ({
        ...ctx,
        ...(category ? { category } : {}),
      }));
      for (const rule of rateRules) {
        const c = rule.condition;
        if (c.kind !== 'rate' || !(DELIVERY_METRICS as readonly string[]).includes(c.metric)) continue;
        if (!categories.some((subject) => matchesReply(rule.match, subject))) continue;
        const window = fresh(p.attempts, now - c.windowSeconds * 1000, p.actedSeq.get(rule.id) ?? 0) as Attempt[];
        const total = window.length;
        const hit = window.filter((a) => a[c.metric as 'throttled' | 'deferred' | 'bounced']).length;
        if (total >= c.minAttempts && hit / total > c.above) {
          act(
            p,
            rule,
            { kind: 'rate', metric: c.metric, value: hit / total, attempts: total, window_seconds: c.windowSeconds },
            configuredPerMinute,
          );
        }
      }
    },

    snapshot() {
      const now = clock.now();
      return [...paces.values()].map((p) => {
        advance(p);
        const m = lastMinute(p, now);
        return {
          key: p.key,
          pool: p.pool,
          site: p.site,
          provider: p.provider ?? null,
          state: stateOf(p, now),
          perMinute: p.perMinute,
          ceilingPerMinute: p.ceiling,
          concurrency: p.concurrency,
          rule: p.rule?.id ?? null,
          why: overrideFor(p) ? `paused by ${overrideFor(p)!.actor}: ${overrideFor(p)!.reason}` : p.why,
          since: p.since,
          nextStepAt: p.perMinute !== null && p.rule ? (p.nextStepAt ?? p.lastTriggerAt + p.rule.recovery.afterSeconds * 1000) : null,
          pausedUntil: p.pausedUntil,
          flagged: p.flagged,
          attemptsLastMinute: m.attempts,
          throttledLastMinute: m.throttled,
        };
      });
    },

    overrides: () => [...overrides.values()].filter((o) => o.until === null || clock.now() < o.until),

    // Ledger pause rules are evaluated by the reputation ledger (its holds); the rest still wait.
    waitingRules: () => rules.rules.filter((r) => r.needsLedger && !ledgerEvaluates(r)).map((r) => r.id),

    pause(o) {
      const now = clock.now();
      const override: PacingOverride = {
        target: o.target,
        pool: o.pool,
        reason: o.reason,
        actor: o.actor,
        at: now,
        until: o.minutes ? now + o.minutes * MINUTE : null,
      };
      overrides.set(`${o.pool ?? '*'}|${o.target}`, override);
      announce(o, 'pause', override.until);
      return targetKeys(o.target, o.pool).length;
    },

    resume(o) {
      let n = 0;
      for (const [k, v] of overrides) {
        if (v.target === o.target && (!o.pool || v.pool === o.pool)) {
          overrides.delete(k);
          n++;
        }
      }
      for (const p of targetKeys(o.target, o.pool)) {
        if (p.pausedUntil !== null) {
          p.pausedUntil = null;
          n++;
        }
      }
      announce(o, 'resume', null);
      return n;
    },

    reset(o) {
      for (const [k, v] of overrides) if (v.target === o.target && (!o.pool || v.pool === o.pool)) overrides.delete(k);
      const keys = targetKeys(o.target, o.pool).map((p) => p.key);
      for (const k of keys) paces.delete(k);
      announce(o, 'reset', null);
      return keys;
    },
  };

  /** An override is one event, whether or not the target has been seen yet. */
  function announce(
    o: { target: string; pool: string | null; reason: string; actor: string; tenantId: string },
    what: PacingChange,
    until: number | null,
  ): void {
    const seen = targetKeys(o.target, o.pool);
    const p: Pace = seen[0] ?? paceOf(`${o.pool ?? '*'}|${o.target}`);
    if (!seen[0]) paces.delete(p.key);
    const shown = {
      ...p,
      site: seen[0]?.site ?? o.target,
      pool: o.pool ?? (seen.length === 1 ? p.pool : '*'),
      pausedUntil: until ?? p.pausedUntil,
    };
    change(shown, what, {
      rule: 'override',
      reason: o.reason,
      actor: o.actor,
      tenantId: o.tenantId,
      trigger: { kind: 'override', keys: seen.map((s) => s.key) },
    });
  }
}

const line = (r: SmtpResponse): string => `${r.code}${r.enhanced ? ` ${r.enhanced}` : ''} ${r.text}`.trim();

function describe(t: Record<string, unknown>): string {
  if (t.kind === 'replies') return `${t.count} matching replies in ${t.window_seconds} s${t.reply ? ` (${t.reply})` : ''}`;
  if (t.kind === 'rate') return `${t.metric} ${(Number(t.value) * 100).toFixed(0)} % of ${t.attempts} attempts in ${t.window_seconds} s`;
  return String(t.kind);
}
