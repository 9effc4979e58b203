import { isoTime, type SpineEvent } from '../core/index.js';
import type { Store } from '../store/index.js';
import type { Alert, AlertKind } from './alerts.js';
import type { AnomalyRule, AnomalyRuleset } from './anomaly-rules.js';

/**
 * Anomaly detection over the events spine (rules/anomalies.yaml). The compliance consumer hands it
 * each event; it keeps counts per (tenant, scope, metric, window bucket) in `anomaly_counts` and
 * answers the alerts a rule's threshold calls for:
 *
 * - volume-spike: recipients of `message.accepted` per tenant, key or stream in the current window
 *   above `factor` × the mean of the `baselineWindows` windows before it (and at least `minCount`);
 * - bounce-spike: `recipient.bounced` ÷ (delivered + bounced) in the window;
 * - complaint-spike: `recipient.complained` ÷ delivered in the window;
 * - key-new-address: a key that has sent before sends from a client address it never used
 *   (`client_ip` on `message.accepted`);
 * - auth-failure-burst: failed SMTP AUTH, API key or password sign-in attempts from one address
 *   (told by the edges through auth-failures.ts, since a failed guess is no event of a tenant);
 * - dmarc-failures: the share of messages failing DMARC in one aggregate report (`report.received`).
 *
 * Counting happens per consumer batch (`batch()`): counts and seen addresses are read from the store
 * once per key, kept in memory while the batch's events are judged, and written together in the
 * transaction that moves the consumer past the batch. One autocommitted upsert per event and metric
 * (an fsync each on SQLite) was four commits per delivered message, half the delivery thread's time
 * in SQLite.
 *
 * Windows are fixed buckets of event time, so replaying the spine counts the same. Delivery to the
 * consumer is at least once: a batch handed over twice counts twice, which can only make an alert
 * come early in a window that is already unusual; the alert itself is raised once (its mark).
 */
/** A failed authentication at an edge: SMTP AUTH, an API key, a password sign-in. */
export interface AuthFailure {
  via: 'smtp-auth' | 'api-key' | 'sign-in';
  address: string;
  tenantId?: string;
}

const viaText: Record<AuthFailure['via'], string> = {
  'smtp-auth': 'SMTP AUTH',
  'api-key': 'an API key',
  'sign-in': 'a password sign-in',
};

export interface AnomalyDeps {
  store: Pick<Store, 'compliance'>;
  rules: AnomalyRuleset;
}

type CountRow = { tenantId: string; scope: string; metric: string; bucket: number; n: number };

/** Counts of one batch: stored values read once per key, plus what the batch added. */
function createTally(store: Pick<Store, 'compliance'>) {
  /** Per series (tenant, scope, metric): the bucket range read from the store, and the counts seen. */
  const series = new Map<string, { from: number; to: number; counts: Map<number, number>; added: Map<number, number> }>();
  const seen = new Map<string, Set<string>>();
  const newlySeen: { tenantId: string; keyId: string; address: string; at: number }[] = [];
  const answered = new Set<string>();
  const seriesKey = (tenantId: string, scope: string, metric: string) => `${tenantId}\u0000${scope}\u0000${metric}`;

  /** The series with every bucket in `from..to` read from the store. */
  async function covering(tenantId: string, scope: string, metric: string, from: number, to: number) {
    const k = seriesKey(tenantId, scope, metric);
    let s = series.get(k);
    if (!s || from < s.from || to > s.to) {
      // Read the union of what was read and what is asked, so earlier buckets keep their counts.
      const lo = s ? Math.min(s.from, from) : from;
      const hi = s ? Math.max(s.to, to) : to;
      const counts = await store.compliance.anomalyCounts({ tenantId, scope, metric, from: lo, to: hi });
      s = { from: lo, to: hi, counts, added: s?.added ?? new Map() };
      series.set(k, s);
    }
    return s;
  }

  return {
    /**
     * The count in bucket `at` and the sum of the buckets in `from..at - 1`, stored plus added. Sums,
     * not a map of buckets: every accepted message asks this of each volume rule.
     */
    async window(tenantId: string, scope: string, metric: string, from: number, at: number): Promise<{ current: number; before: number }> {
      const s = await covering(tenantId, scope, metric, from, at);
      let current = 0;
      let before = 0;
      for (const m of [s.counts, s.added])
        for (const [b, n] of m) {
          if (b === at) current += n;
          else if (b >= from && b < at) before += n;
        }
      return { current, before };
    },
    add(r: CountRow): void {
      const k = seriesKey(r.tenantId, r.scope, r.metric);
      let s = series.get(k);
      if (!s) {
        // Nothing read yet: an empty range, so the first read fetches what the store holds.
        s = { from: Number.POSITIVE_INFINITY, to: Number.NEGATIVE_INFINITY, counts: new Map(), added: new Map() };
        series.set(k, s);
      }
      s.added.set(r.bucket, (s.added.get(r.bucket) ?? 0) + r.n);
    },
    /** Whether `address` is new for the key, and whether the key was used from any address before. */
    async see(tenantId: string, keyId: string, address: string, at: number): Promise<{ fresh: boolean; keyKnown: boolean }> {
      const k = `${tenantId}\u0000${keyId}`;
      let known = seen.get(k);
      if (!known) {
        known = new Set(await store.compliance.addressesSeen(tenantId, keyId));
        seen.set(k, known);
      }
      const keyKnown = known.size > 0;
      if (known.has(address)) return { fresh: false, keyKnown };
      known.add(address);
      newlySeen.push({ tenantId, keyId, address, at });
      return { fresh: true, keyKnown };
    },
    /**
     * Whether the batch already answered this alert (tenant and mark). A rule over its threshold
     * would answer it again for every later event of the batch, and raiseAlerts keeps only the
     * first: so the later ones are neither judged nor built.
     */
    answered: (tenantId: string, mark: string): boolean => answered.has(`${tenantId}\u0000${mark}`),
    answer(a: Alert): Alert {
      answered.add(`${a.tenantId}\u0000${a.mark}`);
      return a;
    },
    get pending(): boolean {
      return newlySeen.length > 0 || [...series.values()].some((s) => s.added.size > 0);
    },
    async write(tx: Pick<Store, 'compliance'>): Promise<void> {
      const rows: CountRow[] = [];
      for (const [k, s] of series) {
        const [tenantId = '', scope = '', metric = ''] = k.split('\u0000');
        for (const [bucket, n] of s.added) rows.push({ tenantId, scope, metric, bucket, n });
      }
      await tx.compliance.addAnomalyCounts(rows);
      await tx.compliance.addSeenAddresses(newlySeen);
    },
  };
}
type Tally = ReturnType<typeof createTally>;

type Metric = 'accepted' | 'delivered' | 'bounced' | 'complained' | 'auth_failures';

export function createAnomalyDetector(deps: AnomalyDeps) {
  const { store, rules } = deps;
  // The ruleset is loaded once at start and never changes: sorted by kind once.
  const kinds = new Map<AlertKind, AnomalyRule[]>();
  const byKind = (k: AlertKind) => {
    let list = kinds.get(k);
    if (!list) kinds.set(k, (list = rules.rules.filter((r) => r.kind === k)));
    return list;
  };
  const bucketOf = (r: AnomalyRule, at: number) => {
    const w = r.windowMinutes * 60_000;
    return Math.floor(at / w) * w;
  };
  const metricName = (m: Metric, r: AnomalyRule) => `${m}:${r.windowMinutes}`;

  /** Adds `n` to a metric for each window size the rules of `kinds` use (once per size). */
  async function count(tenantId: string, scope: string, m: Metric, kinds: AlertKind[], at: number, n: number): Promise<void> {
    const done = new Set<string>();
    for (const r of rules.rules.filter((x) => kinds.includes(x.kind))) {
      const metric = metricName(m, r);
      if (done.has(metric)) continue;
      done.add(metric);
      await store.compliance.addAnomalyCount({ tenantId, scope, metric, bucket: bucketOf(r, at), n });
    }
  }
  /** Adds `n` to a metric in the batch, for each window size the rules of `kinds` use (once per size). */
  function countIn(t: Tally, tenantId: string, scope: string, m: Metric, kinds: AlertKind[], at: number, n: number): void {
    const done = new Set<string>();
    for (const r of rules.rules.filter((x) => kinds.includes(x.kind))) {
      const metric = metricName(m, r);
      if (done.has(metric)) continue;
      done.add(metric);
      t.add({ tenantId, scope, metric, bucket: bucketOf(r, at), n });
    }
  }
  async function tallied(t: Tally, tenantId: string, scope: string, m: Metric, r: AnomalyRule, at: number): Promise<number> {
    const b = bucketOf(r, at);
    return (await t.window(tenantId, scope, metricName(m, r), b, b)).current;
  }
  async function windowCount(tenantId: string, scope: string, m: Metric, r: AnomalyRule, at: number): Promise<number> {
    const b = bucketOf(r, at);
    return (await store.compliance.anomalyCounts({ tenantId, scope, metric: metricName(m, r), from: b, to: b })).get(b) ?? 0;
  }

  const alert = (
    tenantId: string,
    r: AnomalyRule,
    mark: string,
    at: number,
    fields: Omit<Alert['data'], 'kind' | 'severity' | 'rule' | 'ruleset_version' | 'at'>,
  ): Alert => ({
    tenantId,
    mark: `${r.id}:${mark}`,
    data: { kind: r.kind, severity: r.severity, rule: r.id, ruleset_version: rules.version, at: isoTime(at), ...fields },
  });

  async function volume(t: Tally, e: SpineEvent, at: number): Promise<Alert[]> {
    const n = typeof e.data.recipients === 'number' ? e.data.recipients : 1;
    const scopes = { tenant: '*', key: `key:${String(e.data.api_key ?? '')}`, stream: `stream:${String(e.data.stream ?? '')}` };
    const out: Alert[] = [];
    const counted = new Set<string>();
    for (const r of byKind('volume-spike')) {
      const scope = scopes[r.scope];
      const metric = metricName('accepted', r);
      if (!counted.has(`${scope}|${metric}`)) {
        counted.add(`${scope}|${metric}`);
        t.add({ tenantId: e.tenantId, scope, metric, bucket: bucketOf(r, at), n });
      }
      const b = bucketOf(r, at);
      if (t.answered(e.tenantId, `${r.id}:${scope}:${b}`)) continue;
      const w = r.windowMinutes * 60_000;
      const { current, before } = await t.window(e.tenantId, scope, metric, b - r.baselineWindows * w, b);
      const baseline = before / r.baselineWindows;
      if (current < r.minCount || current <= r.factor * baseline) continue;
      out.push(
        t.answer(
          alert(e.tenantId, r, `${scope}:${b}`, at, {
            message: `${current} recipients accepted for ${r.scope === 'tenant' ? 'the tenant' : scope} in ${r.windowMinutes} min, over ${r.factor} × the trailing mean of ${baseline.toFixed(1)}`,
            subject: {
              scope: r.scope,
              value: r.scope === 'tenant' ? e.tenantId : scope.slice(scope.indexOf(':') + 1),
              window_start: isoTime(b),
            },
            value: current,
            threshold: Math.max(r.minCount, r.factor * baseline),
            baseline,
          }),
        ),
      );
    }
    return out;
  }

  async function newAddress(t: Tally, e: SpineEvent, at: number): Promise<Alert[]> {
    const ip = typeof e.data.client_ip === 'string' ? e.data.client_ip : undefined;
    const key = typeof e.data.api_key === 'string' ? e.data.api_key : undefined;
    const rules = byKind('key-new-address');
    // A person's session (usr_…) moves between networks as people do; keys are what machines hold.
    if (!ip || !key || key.startsWith('usr_') || !rules.length) return [];
    const seen = await t.see(e.tenantId, key, ip, at);
    if (!seen.fresh || !seen.keyKnown) return [];
    return rules.map((r) =>
      alert(e.tenantId, r, `${key}:${ip}`, at, {
        message: `key ${key} was used from ${ip}, an address it never sent from before`,
        subject: { key, client_ip: ip, message_id: e.messageId },
      }),
    );
  }

  async function rate(t: Tally, e: SpineEvent, at: number, kind: 'bounce-spike' | 'complaint-spike'): Promise<Alert[]> {
    const out: Alert[] = [];
    for (const r of byKind(kind)) {
      if (t.answered(e.tenantId, `${r.id}:${bucketOf(r, at)}`)) continue;
      const delivered = await tallied(t, e.tenantId, '*', 'delivered', r, at);
      const n = await tallied(t, e.tenantId, '*', kind === 'bounce-spike' ? 'bounced' : 'complained', r, at);
      const denominator = kind === 'bounce-spike' ? delivered + n : Math.max(delivered, 1);
      const share = n / denominator;
      if (n < r.minCount || share < r.rate) continue;
      const b = bucketOf(r, at);
      const what = kind === 'bounce-spike' ? 'bounces' : 'complaints';
      out.push(
        t.answer(
          alert(e.tenantId, r, `${b}`, at, {
            message: `${n} ${what} in ${r.windowMinutes} min (${(share * 100).toFixed(1)} % of ${denominator}) is at or above ${(r.rate * 100).toFixed(1)} %`,
            subject: { window_start: isoTime(b), count: n, denominator },
            value: share,
            threshold: r.rate,
          }),
        ),
      );
    }
    return out;
  }

  async function dmarcFailures(e: SpineEvent, at: number): Promise<Alert[]> {
    const rules = byKind('dmarc-failures');
    if (e.data.kind !== 'dmarc-aggregate' || typeof e.data.feedback_id !== 'string' || !rules.length) return [];
    const rows = await store.compliance.dmarcSources(e.data.feedback_id, e.tenantId);
    let total = 0;
    let failing = 0;
    const domains = new Set<string>();
    for (const r of rows) {
      total += r.count;
      if ((r.dkim ?? '').toLowerCase() !== 'pass' && (r.spf ?? '').toLowerCase() !== 'pass') {
        failing += r.count;
        domains.add(r.policyDomain);
      }
    }
    const share = total ? failing / total : 0;
    return rules
      .filter((r) => failing >= r.minCount && share >= r.rate)
      .map((r) =>
        alert(e.tenantId, r, e.data.feedback_id as string, at, {
          message: `${failing} of ${total} messages in the DMARC report from ${String(e.data.organization ?? 'a receiver')} failed DMARC for ${[...domains].join(', ')}`,
          subject: { feedback_id: e.data.feedback_id, domains: [...domains], organization: e.data.organization ?? null, failing, total },
          value: share,
          threshold: r.rate,
        }),
      );
  }

  async function observeIn(t: Tally, e: SpineEvent): Promise<Alert[]> {
    const at = Date.parse(e.at);
    switch (e.type) {
      case 'message.accepted':
        return [...(await volume(t, e, at)), ...(await newAddress(t, e, at))];
      case 'recipient.delivered':
        countIn(t, e.tenantId, '*', 'delivered', ['bounce-spike', 'complaint-spike'], at, 1);
        return [];
      case 'recipient.bounced':
        countIn(t, e.tenantId, '*', 'bounced', ['bounce-spike'], at, 1);
        return rate(t, e, at, 'bounce-spike');
      case 'recipient.complained':
        countIn(t, e.tenantId, '*', 'complained', ['complaint-spike'], at, 1);
        return rate(t, e, at, 'complaint-spike');
      case 'report.received':
        return dmarcFailures(e, at);
      default:
        return [];
    }
  }

  return {
    /**
     * One consumer batch: `observe` each event in order (answers the alerts it trips), then `write`
     * the batch's counts in the transaction that stores those alerts and moves the consumer on. A
     * batch that is not written counts nothing, so a retried batch is not counted twice.
     */
    batch() {
      const t = createTally(store);
      return {
        observe: (e: SpineEvent) => observeIn(t, e),
        get pending() {
          return t.pending;
        },
        write: (tx: Pick<Store, 'compliance'>) => t.write(tx),
      };
    },
    /** One event as a batch of its own, written at once (outside a consumer). */
    async observe(e: SpineEvent): Promise<Alert[]> {
      const t = createTally(store);
      const alerts = await observeIn(t, e);
      await t.write(store);
      return alerts;
    },
    /**
     * `n` (default 1) failed SMTP AUTH, API key or password sign-in attempts from `address`, the last
     * at `at` (auth-failures.ts tallies them in memory and hands them over in batches). `tenantId`
     * is the tenant whose credential was guessed when known, else `platform`.
     */
    async authFailed(f: AuthFailure & { at: number; n?: number }): Promise<Alert[]> {
      const tenantId = f.tenantId ?? 'platform';
      const scope = `addr:${f.address}`;
      await count(tenantId, scope, 'auth_failures', ['auth-failure-burst'], f.at, f.n ?? 1);
      const out: Alert[] = [];
      for (const r of byKind('auth-failure-burst')) {
        const n = await windowCount(tenantId, scope, 'auth_failures', r, f.at);
        if (n < r.minCount) continue;
        out.push(
          alert(tenantId, r, `${f.address}:${bucketOf(r, f.at)}`, f.at, {
            message: `${n} failed authentication attempts (the last: ${viaText[f.via]}) from ${f.address} in ${r.windowMinutes} min`,
            subject: { address: f.address, via: f.via, window_start: isoTime(bucketOf(r, f.at)) },
            value: n,
            threshold: r.minCount,
          }),
        );
      }
      return out;
    },
  };
}

export type AnomalyDetector = ReturnType<typeof createAnomalyDetector>;
