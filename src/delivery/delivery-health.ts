import { type Static, Type } from 'typebox';
import type { ReputationHoldRow } from '../store/index.js';
import type { BreakerSnapshot } from './breaker.js';
import type { ConnectionLimits } from './delivery-policy.js';
import type { PaceSnapshot, PacingOverride } from './pacing.js';
import type { DestinationLimits } from './shaper.js';
import type { WarmupSnapshot } from './warmup.js';

/**
 * The JSON of delivery health (GET /v1/delivery/health and `postwarden delivery health --json`):
 * per egress pool × destination site, its pacing state, breaker, current caps against the
 * configured limits, recent rates, and why. One schema and one builder, used by the API and the CLI.
 */
export interface DeliveryHealth {
  pacingEnabled: boolean;
  rulesetVersion: string;
  waitingRules: string[];
  sites: Array<{ pace: PaceSnapshot; breaker: BreakerSnapshot; configured: DestinationLimits; effective: ConnectionLimits }>;
  overrides: PacingOverride[];
  holds: ReputationHoldRow[];
  warmup: WarmupSnapshot[];
  warmupVersion: string | null;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const Nullable = <T extends ReturnType<typeof Type.String> | ReturnType<typeof Type.Integer>>(t: T, description: string) =>
  Type.Union([t, Type.Null()], { description });
const Time = (description: string) => Nullable(Type.String({ format: 'date-time' }), description);

const SiteJson = Type.Object(
  {
    key: Type.String({ description: 'Pool and site, `pool|site`: the unit breakers and pace are kept for.' }),
    pool: Type.String({ description: 'Egress pool (delivery.pools).' }),
    site: Type.String({ description: 'Destination site: the MX host set.' }),
    provider: Nullable(Type.String(), 'Mailbox provider of the site (rules/providers.yaml).'),
    state: Type.Enum(['healthy', 'throttled', 'paused'], { type: 'string', description: 'Pacing state.' }),
    breaker: Type.Object(
      {
        state: Type.Enum(['closed', 'open', 'half-open'], { type: 'string' }),
        consecutive: Type.Integer({ description: 'Failures and throttles since the last success.' }),
        trips: Type.Integer({ description: 'Times it opened since the last success.' }),
        retry_at: Time('When an open breaker lets a probe through.'),
      },
      { additionalProperties: false },
    ),
    caps: Type.Object(
      {
        per_minute: Nullable(Type.Integer(), 'Pacing rate cap in force; null: none.'),
        concurrency: Nullable(Type.Integer(), 'Pacing connection cap in force; null: none.'),
        ceiling_per_minute: Nullable(Type.Integer(), 'The rate recovery steps back up to.'),
        max_connections: Type.Integer({ description: 'Connections allowed now (configured limit with the pacing cap applied).' }),
      },
      { additionalProperties: false },
    ),
    configured: Type.Object(
      {
        per_second: Type.Number({ description: 'delivery.perSecond (0: no limit).' }),
        per_minute: Type.Number({ description: 'delivery.perMinute (0: no limit).' }),
        max_connections: Type.Integer(),
        messages_per_connection: Type.Integer(),
      },
      { additionalProperties: false },
    ),
    rates: Type.Object(
      {
        attempts_last_minute: Type.Integer({ description: 'Transactions attempted in the last minute (this node).' }),
        throttled_last_minute: Type.Integer({ description: 'Of those, answered with a throttling reply.' }),
      },
      { additionalProperties: false },
    ),
    rule: Nullable(Type.String(), 'The rules/pacing.yaml rule in charge.'),
    why: Type.String({ description: 'Why the pace is what it is, in one line; empty when healthy.' }),
    since: Time('Since when the pace has been reduced.'),
    next_step_at: Time('When the next recovery step is due, if quiet until then.'),
    paused_until: Time("End of a rule's pause."),
    flagged: Nullable(Type.String(), 'The rule that flagged this pool at this site for review.'),
  },
  { additionalProperties: false },
);

const OverrideJson = Type.Object(
  {
    target: Type.String({ description: 'Site or provider paused.' }),
    pool: Nullable(Type.String(), 'Pool paused; null: every pool.'),
    reason: Type.String(),
    actor: Type.String({ description: 'The API key that paused it.' }),
    at: Type.String({ format: 'date-time' }),
    until: Time('End of the pause; null: until resumed.'),
  },
  { additionalProperties: false },
);

const HoldJson = Type.Object(
  {
    tenant_id: Type.String(),
    domain: Type.String({ description: 'Sending domain held.' }),
    stream: Type.String({ description: 'Stream held (from every pool of its lane).' }),
    provider: Type.String({ description: 'Mailbox provider it is held at.' }),
    pool: Type.String({ description: 'Pool the tipping mail left from.' }),
    rule: Type.String({ description: 'The rules/pacing.yaml ledger rule.' }),
    reason: Type.String({ description: 'The numbers that tipped it.' }),
    since: Type.String({ format: 'date-time' }),
    until: Type.String({ format: 'date-time', description: 'When the hold ends.' }),
  },
  { additionalProperties: false },
);

const WarmupJson = Type.Object(
  {
    pool: Type.String({ description: 'A pool with `warmup: true`.' }),
    provider: Type.String(),
    state: Type.Enum(['warming', 'graduated'], { type: 'string' }),
    day: Type.Integer({ description: 'Day of the schedule today (1-based, UTC days).' }),
    cap_today: Nullable(Type.Integer(), "Today's cap in recipients; null once graduated."),
    sent_today: Type.Integer({ description: 'Recipients admitted today from this pool to this provider.' }),
    started_at: Type.String({ format: 'date-time' }),
    graduated_at: Time('When it graduated.'),
    reason: Type.String({ description: 'Why it graduated, or what it still lacks (checked once a day).' }),
  },
  { additionalProperties: false },
);

export const DeliveryHealthJson = Type.Object(
  {
    pacing: Type.Object(
      {
        enabled: Type.Boolean({ description: 'delivery.pacing.enabled: rules act on throttling replies.' }),
        ruleset_version: Type.String({ description: 'Version of rules/pacing.yaml.' }),
        waiting_rules: Type.Array(Type.String(), { description: 'Rules that wait for the reputation ledger to feed their condition.' }),
      },
      { additionalProperties: false },
    ),
    sites: Type.Array(SiteJson, { description: 'Every pool × site with a pace, a breaker not closed, or recent attempts on this node.' }),
    overrides: Type.Array(OverrideJson, { description: 'Pauses in force set through POST /v1/delivery/health/{site}/pause.' }),
    holds: Type.Array(HoldJson, {
      description: 'Streams the reputation ledger holds at a provider (docs/reputation.md "Holds"); transactional mail is never held.',
    }),
    warmup: Type.Object(
      {
        ruleset_version: Nullable(Type.String(), 'Version of rules/warmup.yaml; null when warmup is off.'),
        pools: Type.Array(WarmupJson, { description: 'Warming pools per provider (docs/reputation.md "Warmup").' }),
      },
      { additionalProperties: false },
    ),
  },
  {
    additionalProperties: false,
    examples: [
      {
        pacing: { enabled: true, ruleset_version: '2026.12.1', waiting_rules: ['cold-complaint-pause'] },
        sites: [
          {
            key: 'default|gmail-smtp-in.l.google.com',
            pool: 'default',
            site: 'gmail-smtp-in.l.google.com',
            provider: 'gmail',
            state: 'throttled',
            breaker: { state: 'closed', consecutive: 0, trips: 0, retry_at: null },
            caps: { per_minute: 30, concurrency: 2, ceiling_per_minute: 60, max_connections: 2 },
            configured: { per_second: 0, per_minute: 0, max_connections: 10, messages_per_connection: 100 },
            rates: { attempts_last_minute: 31, throttled_last_minute: 3 },
            rule: 'gmail-rate-4.7.28',
            why: 'gmail-rate-4.7.28: 3 matching replies in 60 s; capped at 30/min',
            since: '2026-12-06T10:00:00.000Z',
            next_step_at: '2026-12-06T10:02:00.000Z',
            paused_until: null,
            flagged: null,
          },
        ],
        overrides: [],
        holds: [
          {
            tenant_id: 'ten_01JEXAMPLE',
            domain: 'example.com',
            stream: 'cold',
            provider: 'gmail',
            pool: 'cold',
            rule: 'cold-complaint-pause',
            reason:
              'complaints 1 in 5m (0.50 % of 200) is above 0.00 % (rules/pacing.yaml 2026.12.2); paused at gmail until 2026-12-09T10:00:00.000Z',
            since: '2026-12-06T10:00:00.000Z',
            until: '2026-12-09T10:00:00.000Z',
          },
        ],
        warmup: {
          ruleset_version: '2026.12.1',
          pools: [
            {
              pool: 'cold-new',
              provider: 'gmail',
              state: 'warming',
              day: 4,
              cap_today: 250,
              sent_today: 120,
              started_at: '2026-12-03T08:00:00.000Z',
              graduated_at: null,
              reason: '',
            },
          ],
        },
      },
    ],
  },
);
export type DeliveryHealthJson = Static<typeof DeliveryHealthJson>;

export function deliveryHealthJson(h: DeliveryHealth): DeliveryHealthJson {
  return {
    pacing: { enabled: h.pacingEnabled, ruleset_version: h.rulesetVersion, waiting_rules: h.waitingRules },
    sites: h.sites.map(({ pace: p, breaker: b, configured: c, effective: e }) => ({
      key: p.key,
      pool: p.pool,
      site: p.site,
      provider: p.provider,
      state: p.state,
      breaker: { state: b.state, consecutive: b.consecutive, trips: b.trips, retry_at: iso(b.retryAt) },
      caps: {
        per_minute: p.perMinute,
        concurrency: p.concurrency,
        ceiling_per_minute: p.ceilingPerMinute,
        max_connections: e.maxConnections,
      },
      configured: {
        per_second: c.perSecond,
        per_minute: c.perMinute,
        max_connections: c.maxConnections,
        messages_per_connection: c.maxMessagesPerConnection,
      },
      rates: { attempts_last_minute: p.attemptsLastMinute, throttled_last_minute: p.throttledLastMinute },
      rule: p.rule,
      why: p.why,
      since: iso(p.since),
      next_step_at: iso(p.nextStepAt),
      paused_until: iso(p.pausedUntil),
      flagged: p.flagged,
    })),
    overrides: h.overrides.map((o) => ({
      target: o.target,
      pool: o.pool,
      reason: o.reason,
      actor: o.actor,
      at: new Date(o.at).toISOString(),
      until: iso(o.until),
    })),
    holds: h.holds.map((x) => ({
      tenant_id: x.tenantId,
      domain: x.domain,
      stream: x.stream,
      provider: x.provider,
      pool: x.pool,
      rule: x.rule,
      reason: x.reason,
      since: new Date(x.since).toISOString(),
      until: new Date(x.until).toISOString(),
    })),
    warmup: {
      ruleset_version: h.warmupVersion,
      pools: h.warmup.map((w) => ({
        pool: w.pool,
        provider: w.provider,
        state: w.state,
        day: w.day,
        cap_today: w.capToday,
        sent_today: w.sentToday,
        started_at: new Date(w.startedAt).toISOString(),
        graduated_at: iso(w.graduatedAt),
        reason: w.reason,
      })),
    },
  };
}
