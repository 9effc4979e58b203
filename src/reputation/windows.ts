/**
 * Ledger arithmetic: buckets, windows, rates. Counts live in time buckets (5-minute ones for the
 * 1-hour window, hourly ones for the rest), so a window is a sum of buckets and a rebuild from the
 * spine lands on the same rows. A window ending at `at` holds the bucket containing `at` and the
 * ones before it up to the window's length: 1 h is the last 12 five-minute buckets, 24 h the last 24
 * hourly ones, 7 d the last 168. The baseline is the 7 days before the 24-hour window.
 */
export const RESOLUTIONS = { '5m': 300_000, '1h': 3_600_000 } as const;
export type Resolution = keyof typeof RESOLUTIONS;

export const WINDOWS = { '1h': 3_600_000, '24h': 86_400_000, '7d': 604_800_000 } as const;
export type WindowName = keyof typeof WINDOWS;
export const WINDOW_NAMES = Object.keys(WINDOWS) as WindowName[];

/** How far back anything is read: the baseline's start. */
export const LOOKBACK_MS = 8 * 86_400_000;

export const bucketOf = (at: number, res: Resolution): number => at - (((at % RESOLUTIONS[res]) + RESOLUTIONS[res]) % RESOLUTIONS[res]);

/** The metrics a bucket counts. `block:<category>` rows count blocks per bounce category. */
export const METRICS = [
  'attempts',
  'delivered',
  'deferred',
  'throttled',
  'bounced',
  'hard_bounces',
  'blocked',
  'expired',
  'complaints',
  'unsubscribes',
  'opens',
  'clicks',
] as const;
export type Metric = (typeof METRICS)[number];

export type Counts = Record<Metric, number> & { blocks: Record<string, number> };

const ZERO = Object.freeze(Object.fromEntries(METRICS.map((m) => [m, 0])) as Record<Metric, number>);
/** Three per event the ledger applies (its windows): a copy of a template, not a map over the metrics each time. */
export const emptyCounts = (): Counts => ({ ...ZERO, blocks: {} });

/** One bucket's counts, as stored: `cells` maps `${res}|${bucket}|${metric}` to a count. */
export type Cells = Map<string, number>;
export const cellKey = (res: Resolution, bucket: number, metric: string) => `${res}|${bucket}|${metric}`;

/** The bucket range [from, to] (bucket starts, inclusive) of a window ending at `at`. */
export function windowRange(window: WindowName | 'baseline', at: number): { res: Resolution; from: number; to: number } {
  if (window === '1h') {
    const to = bucketOf(at, '5m');
    return { res: '5m', from: to - WINDOWS['1h'] + RESOLUTIONS['5m'], to };
  }
  const to = bucketOf(at, '1h');
  if (window === 'baseline') return { res: '1h', from: to - LOOKBACK_MS + RESOLUTIONS['1h'], to: to - WINDOWS['24h'] };
  return { res: '1h', from: to - WINDOWS[window] + RESOLUTIONS['1h'], to };
}

/** Sums the cells of one key over a window ending at `at`. */
export function sumWindow(cells: Cells, window: WindowName | 'baseline', at: number): Counts {
  const { res, from, to } = windowRange(window, at);
  const out = emptyCounts();
  const prefix = `${res}|`;
  for (const [k, n] of cells) {
    // Read in place (no split): the ledger sums three windows for every event it applies.
    if (!k.startsWith(prefix)) continue;
    const end = k.indexOf('|', prefix.length);
    const bucket = Number(k.slice(prefix.length, end));
    if (bucket < from || bucket > to) continue;
    const metric = k.slice(end + 1);
    if (metric.startsWith('block:')) {
      const category = metric.slice(6);
      out.blocks[category] = (out.blocks[category] ?? 0) + n;
    } else if (metric in out) out[metric as Metric] += n;
  }
  return out;
}

export interface Rates {
  /** delivered ÷ attempts */
  delivery_rate: number | null;
  /** deferred ÷ attempts */
  deferral_rate: number | null;
  /** throttling deferrals ÷ attempts */
  throttling_rate: number | null;
  /** hard bounces ÷ (delivered + bounced): what share of finished sends hit a dead address */
  hard_bounce_rate: number | null;
  /** blocks ÷ attempts */
  block_rate: number | null;
  /** complaints ÷ delivered (how Gmail and Yahoo count it) */
  complaint_rate: number | null;
  unsubscribe_rate: number | null;
  open_rate: number | null;
  click_rate: number | null;
}

const ratio = (n: number, d: number): number | null => (d > 0 ? n / d : null);

export function ratesOf(c: Counts): Rates {
  return {
    delivery_rate: ratio(c.delivered, c.attempts),
    deferral_rate: ratio(c.deferred, c.attempts),
    throttling_rate: ratio(c.throttled, c.attempts),
    hard_bounce_rate: ratio(c.hard_bounces, c.delivered + c.bounced),
    block_rate: ratio(c.blocked, c.attempts),
    complaint_rate: ratio(c.complaints, c.delivered),
    unsubscribe_rate: ratio(c.unsubscribes, c.delivered),
    open_rate: ratio(c.opens, c.delivered),
    click_rate: ratio(c.clicks, c.delivered),
  };
}

export function addCounts(a: Counts, b: Counts): Counts {
  const out = emptyCounts();
  for (const m of METRICS) out[m] = a[m] + b[m];
  for (const src of [a.blocks, b.blocks]) for (const [k, n] of Object.entries(src)) out.blocks[k] = (out.blocks[k] ?? 0) + n;
  return out;
}
