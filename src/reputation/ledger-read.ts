import type { Clock } from '../core/index.js';
import type { ReputationKeyFilter, ReputationKeyRow, Store } from '../store/index.js';
import type { Identity } from './event-contribution.js';
import {
  addCounts,
  type Cells,
  type Counts,
  cellKey,
  emptyCounts,
  LOOKBACK_MS,
  type Rates,
  ratesOf,
  sumWindow,
  type WindowName,
} from './windows.js';

/**
 * The ledger's read side: what GET /v1/reputation and `postwarden reputation` show, and the small
 * interface the delivery policy may ask (`rates(identity, provider, window)`). Windows end now.
 */
export interface ReputationEntry {
  row: ReputationKeyRow;
  windows: Record<WindowName, { counts: Counts; rates: Rates }>;
  baseline: { counts: Counts; rates: Rates };
}

export interface LedgerReader {
  list(filter: ReputationKeyFilter): Promise<ReputationEntry[]>;
  /** Counts and rates of one identity at one provider over a window ending now, summed over tenants and streams. */
  rates(identity: Partial<Identity> & { domain: string }, provider: string, window: WindowName): Promise<{ counts: Counts; rates: Rates }>;
  /** An egress pool at a provider, over every tenant, domain and stream: lifetime deliveries and 7-day rates (warmup graduation). */
  poolStats(pool: string, provider: string): Promise<{ delivered: number; complaintRate: number | null; hardBounceRate: number | null }>;
}

export function createLedgerReader(deps: { store: Pick<Store, 'reputation'>; clock: Clock }): LedgerReader {
  const { store, clock } = deps;

  async function cellsOf(keys: string[], now: number): Promise<Map<string, Cells>> {
    const out = new Map<string, Cells>();
    for (const c of await store.reputation.counts(keys, now - LOOKBACK_MS - 3_600_000)) {
      let cells = out.get(c.key);
      if (!cells) out.set(c.key, (cells = new Map()));
      cells.set(cellKey(c.res, c.bucket, c.metric), c.n);
    }
    return out;
  }

  const both = (counts: Counts) => ({ counts, rates: ratesOf(counts) });

  return {
    async list(filter) {
      const now = clock.now();
      const rows = await store.reputation.listKeys(filter);
      const cells = await cellsOf(
        rows.map((r) => r.key),
        now,
      );
      return rows.map((row) => {
        const c = cells.get(row.key) ?? new Map();
        return {
          row,
          windows: {
            '1h': both(sumWindow(c, '1h', now)),
            '24h': both(sumWindow(c, '24h', now)),
            '7d': both(sumWindow(c, '7d', now)),
          },
          baseline: both(sumWindow(c, 'baseline', now)),
        };
      });
    },

    async rates(identity, provider, window) {
      const now = clock.now();
      const rows = (await store.reputation.listAll({ domain: identity.domain, provider })).filter(
        (r) =>
          (identity.selector === undefined || r.selector === identity.selector) &&
          (identity.pool === undefined || r.pool === identity.pool) &&
          (identity.returnPath === undefined || r.returnPath === identity.returnPath),
      );
      const cells = await cellsOf(
        rows.map((r) => r.key),
        now,
      );
      let total = emptyCounts();
      for (const c of cells.values()) total = addCounts(total, sumWindow(c, window, now));
      return both(total);
    },

    async poolStats(pool, provider) {
      const now = clock.now();
      const rows = await store.reputation.listByPool({ pool, provider });
      const cells = await cellsOf(
        rows.map((r) => r.key),
        now,
      );
      let total = emptyCounts();
      for (const c of cells.values()) total = addCounts(total, sumWindow(c, '7d', now));
      const rates = ratesOf(total);
      return {
        delivered: rows.reduce((n, r) => n + r.deliveredTotal, 0),
        complaintRate: rates.complaint_rate,
        hardBounceRate: rates.hard_bounce_rate,
      };
    },
  };
}
