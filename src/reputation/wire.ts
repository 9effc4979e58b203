import { Type } from 'typebox';
import { isoTime } from '../core/index.js';
import type { ReputationEntry } from './ledger-read.js';
import { type Counts, METRICS, type Rates } from './windows.js';

/** The one JSON form of a ledger entry: GET /v1/reputation and `postwarden reputation` print it. */
const rate = (description: string) => Type.Union([Type.Number(), Type.Null()], { description });
const CountsJson = Type.Object(
  {
    ...Object.fromEntries(METRICS.map((m) => [m, Type.Integer()])),
    blocks: Type.Record(Type.String(), Type.Integer(), { description: 'Blocks per bounce category (reputation_block, policy_block, …).' }),
  },
  { additionalProperties: false },
);
const RatesJson = Type.Object(
  {
    delivery_rate: rate('delivered ÷ attempts'),
    deferral_rate: rate('deferred ÷ attempts'),
    throttling_rate: rate('throttling deferrals ÷ attempts'),
    hard_bounce_rate: rate('hard bounces ÷ (delivered + bounced)'),
    block_rate: rate('blocks ÷ attempts'),
    complaint_rate: rate('complaints ÷ delivered'),
    unsubscribe_rate: rate('unsubscribes ÷ delivered'),
    open_rate: rate('human opens ÷ delivered'),
    click_rate: rate('human clicks ÷ delivered'),
  },
  { additionalProperties: false },
);
const WindowJson = Type.Object({ counts: CountsJson, rates: RatesJson }, { additionalProperties: false });

export const ReputationJson = Type.Object(
  {
    identity: Type.Object(
      { domain: Type.String(), selector: Type.String(), pool: Type.String(), return_path: Type.String() },
      { additionalProperties: false, description: 'Sending domain, DKIM selector, egress pool, return-path domain.' },
    ),
    provider: Type.String({ description: 'Mailbox provider (rules/providers.yaml) or `other`.' }),
    stream: Type.String(),
    state: Type.Union(
      [Type.Literal('healthy'), Type.Literal('watch'), Type.Literal('throttled'), Type.Literal('paused'), Type.Literal('warming')],
      { description: 'The ledger state (docs/reputation.md).' },
    ),
    reason: Type.String({ description: 'The rule that decided the state and its numbers.' }),
    since: Type.String({ format: 'date-time', description: 'When the key entered its state.' }),
    delivered_total: Type.Integer({ description: 'Deliveries ever (the warming line).' }),
    updated_at: Type.String({ format: 'date-time', description: 'Time of the last event counted.' }),
    windows: Type.Object({ '1h': WindowJson, '24h': WindowJson, '7d': WindowJson }, { additionalProperties: false }),
    baseline: WindowJson,
  },
  { additionalProperties: false, examples: [example()] },
);

function example() {
  const counts = { ...Object.fromEntries(METRICS.map((m) => [m, 0])), blocks: {} } as Record<string, unknown>;
  const rates = {
    delivery_rate: 0.98,
    deferral_rate: 0.02,
    throttling_rate: 0,
    hard_bounce_rate: 0.004,
    block_rate: 0,
    complaint_rate: 0.0008,
    unsubscribe_rate: 0.002,
    open_rate: null,
    click_rate: null,
  };
  const w = { counts: { ...counts, attempts: 2500, delivered: 2450, deferred: 50, complaints: 2 }, rates };
  return {
    identity: { domain: 'example.com', selector: 'pw2026', pool: 'default', return_path: 'bounces.example.com' },
    provider: 'gmail',
    stream: 'marketing',
    state: 'healthy',
    reason: 'healthy: every rate is below its line',
    since: '2026-12-01T08:00:00.000Z',
    delivered_total: 48210,
    updated_at: '2026-12-06T09:59:12.000Z',
    windows: { '1h': w, '24h': w, '7d': w },
    baseline: w,
  };
}

const countsJson = (c: Counts) => ({ ...c, blocks: { ...c.blocks } });
const windowJson = (w: { counts: Counts; rates: Rates }) => ({ counts: countsJson(w.counts), rates: { ...w.rates } });

export function reputationJson(e: ReputationEntry) {
  const r = e.row;
  return {
    identity: { domain: r.domain, selector: r.selector, pool: r.pool, return_path: r.returnPath },
    provider: r.provider,
    stream: r.stream,
    state: r.state as 'healthy' | 'watch' | 'throttled' | 'paused' | 'warming',
    reason: r.reason,
    since: isoTime(r.since),
    delivered_total: r.deliveredTotal,
    updated_at: isoTime(r.updatedAt),
    windows: { '1h': windowJson(e.windows['1h']), '24h': windowJson(e.windows['24h']), '7d': windowJson(e.windows['7d']) },
    baseline: windowJson(e.baseline),
  };
}
