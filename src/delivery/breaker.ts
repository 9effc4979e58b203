/**
 * A circuit breaker per destination, so a remote that refuses connections or throttles us is left
 * alone for a while instead of being hammered, and only that destination waits.
 *
 * ```
 *            N consecutive failures/throttles          cooldown elapsed: allow() lets one probe through
 *   closed ───────────────────────────────────► open ─────────────────────────────────────────► half-open
 *     ▲                                          ▲                                                  │
 *     │ success (cooldown back to its base)      └──── failure/throttled (cooldown doubles, capped) ┤
 *     └─────────────────────────────────────────────────────────── success ─────────────────────────┘
 * ```
 * Pure over an injected clock: no timers. A probe whose outcome is never recorded (a crashed
 * caller) expires after `probeTimeoutMs`, and the next `allow()` sends another, so half-open cannot
 * stick. A success recorded in any state closes the breaker: it proves the destination works.
 * Healthy destinations keep no entry, so memory follows the number of troubled ones.
 */
import type { Clock, SmtpResponse } from '../core/index.js';

export type BreakerState = 'closed' | 'open' | 'half-open';
export type BreakerOutcome = 'success' | 'failure' | 'throttled';

export interface BreakerOptions {
  clock: Clock;
  /** Consecutive failures or throttling replies that open the breaker. Default 5. */
  threshold?: number;
  /** First open period. Default 60 s. */
  cooldownMs?: number;
  /** Cap of the doubling cooldown. Default 30 min. */
  maxCooldownMs?: number;
  /** How long a probe may stay unanswered. Default `cooldownMs`. */
  probeTimeoutMs?: number;
}

export type BreakerDecision = { ok: true; probe: boolean } | { ok: false; retryAt: number; reason: string };

export interface BreakerSnapshot {
  state: BreakerState;
  /** Failures and throttles since the last success. */
  consecutive: number;
  /** The open period the next trip uses (or the current one while open). */
  cooldownMs: number;
  openedAt: number | null;
  retryAt: number | null;
  lastFailure: Exclude<BreakerOutcome, 'success'> | null;
  /** Times the breaker opened since the last success. */
  trips: number;
}

export interface Breaker {
  allow(key: string): BreakerDecision;
  record(key: string, outcome: BreakerOutcome): BreakerSnapshot;
  state(key: string): BreakerSnapshot;
  /** Destinations not closed-and-clean, for metrics. */
  keys(): string[];
  /** Closes and forgets a destination's breaker (an operator's reset). */
  reset(key: string): void;
}

interface Entry extends BreakerSnapshot {
  probeStartedAt: number | null;
}

export function createBreaker(o: BreakerOptions): Breaker {
  const threshold = o.threshold ?? 5;
  const base = o.cooldownMs ?? 60_000;
  const max = Math.max(base, o.maxCooldownMs ?? 30 * 60_000);
  const probeTimeout = o.probeTimeoutMs ?? base;
  const entries = new Map<string, Entry>();

  const fresh = (): Entry => ({
    state: 'closed',
    consecutive: 0,
    cooldownMs: base,
    openedAt: null,
    retryAt: null,
    lastFailure: null,
    trips: 0,
    probeStartedAt: null,
  });
  const snapshot = (e: Entry): BreakerSnapshot => {
    const { probeStartedAt: _probe, ...rest } = e;
    return rest;
  };
  const trip = (e: Entry, cooldownMs: number, now: number): void => {
    e.state = 'open';
    e.cooldownMs = cooldownMs;
    e.openedAt = now;
    e.retryAt = now + cooldownMs;
    e.probeStartedAt = null;
    e.trips++;
  };

  return {
    allow(key) {
      const e = entries.get(key);
      if (!e || e.state === 'closed') return { ok: true, probe: false };
      const now = o.clock.now();
      if (e.state === 'open') {
        if (now < (e.retryAt ?? 0)) {
          return {
            ok: false,
            retryAt: e.retryAt ?? now,
            reason: `circuit open after ${e.consecutive} consecutive ${e.lastFailure ?? 'failure'} outcome(s)`,
          };
        }
        e.state = 'half-open';
        e.probeStartedAt = now;
        return { ok: true, probe: true };
      }
      const probeEnds = (e.probeStartedAt ?? now) + probeTimeout;
      if (now < probeEnds) return { ok: false, retryAt: probeEnds, reason: 'circuit half-open: a probe is in flight' };
      e.probeStartedAt = now;
      return { ok: true, probe: true };
    },

    record(key, outcome) {
      if (outcome === 'success') {
        entries.delete(key);
        return snapshot(fresh());
      }
      const now = o.clock.now();
      const e = entries.get(key) ?? fresh();
      entries.set(key, e);
      e.consecutive++;
      e.lastFailure = outcome;
      switch (e.state) {
        case 'closed':
          if (e.consecutive >= threshold) trip(e, base, now);
          break;
        case 'half-open':
          trip(e, Math.min(e.cooldownMs * 2, max), now);
          break;
        case 'open':
          break; // late outcomes of attempts started before the trip change nothing
        default: {
          const never: never = e.state;
          return never;
        }
      }
      return snapshot(e);
    },

    state(key) {
      return snapshot(entries.get(key) ?? fresh());
    },

    keys: () => [...entries.keys()],
    reset: (key) => void entries.delete(key),
  };
}

/**
 * Enhanced codes providers use for rate limiting: Gmail 4.7.28 (unusual rate from your IP),
 * Microsoft 4.7.500 (server busy) and 4.7.650/4.7.651 (IP rate limited for reputation).
 */
const THROTTLE_CODES = new Set(['4.7.28', '4.7.500', '4.7.650', '4.7.651']);
const THROTTLE_TEXT = /rate[ -]?limit|too many (?!recipients)|throttl|slow down|temporarily deferred due to unexpected volume/i;

/**
 * Is this reply the destination throttling us? 421 (RFC 5321 §3.8: the server is closing the
 * channel, in practice load or rate) and 4xx replies with a known rate-limit code or wording.
 * Not: 452 4.5.3 "too many recipients" (a per-transaction limit, RFC 5321 §4.5.3.1.10) and
 * greylisting, which asks for a retry of that message, not for less traffic.
 */
export function isThrottlingReply(reply: SmtpResponse): boolean {
  if (reply.code === 421) return true;
  if (reply.code < 400 || reply.code >= 500 || reply.enhanced === '4.5.3') return false;
  if (reply.enhanced && THROTTLE_CODES.has(reply.enhanced)) return true;
  return THROTTLE_TEXT.test(reply.text);
}

/** The breaker outcome of a transaction whose replies came back: any throttling reply says throttled. */
export function outcomeOfReplies(replies: Iterable<SmtpResponse>): 'success' | 'throttled' {
  for (const r of replies) if (isThrottlingReply(r)) return 'throttled';
  return 'success';
}
