import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/**
 * Delivery metrics for Prometheus (`GET /metrics`). Labels are bounded: `site` is an MX host set,
 * of which a node talks to a finite number, never a recipient address. Latencies are in seconds,
 * as Prometheus conventions ask.
 */
export function createDeliveryMetrics(registry: Registry) {
  const registers = [registry];
  return {
    outcomes: new Counter({
      name: 'postwarden_delivery_outcomes_total',
      help: 'Recipient outcomes by destination site and kind (delivered, deferred, bounced, failed, expired).',
      labelNames: ['site', 'kind'] as const,
      registers,
    }),
    queueWait: new Histogram({
      name: 'postwarden_delivery_queue_wait_seconds',
      help: 'Time from acceptance (or the due time of a retry) to the start of the attempt.',
      labelNames: ['site'] as const,
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120, 600, 3600],
      registers,
    }),
    connect: new Histogram({
      name: 'postwarden_delivery_connect_seconds',
      help: 'TCP connect plus greeting, EHLO and STARTTLS for a new session.',
      labelNames: ['site'] as const,
      buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
      registers,
    }),
    acceptance: new Histogram({
      name: 'postwarden_delivery_acceptance_seconds',
      help: 'MAIL FROM to the final DATA reply for one transaction.',
      labelNames: ['site'] as const,
      buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120],
      registers,
    }),
    inFlight: new Gauge({ name: 'postwarden_delivery_in_flight', help: 'Recipients being delivered by this node.', registers }),
    breakerOpen: new Gauge({
      name: 'postwarden_delivery_breaker_open',
      help: '1 while the circuit breaker of a destination site is open.',
      labelNames: ['site'] as const,
      registers,
    }),
  };
}

export type DeliveryMetrics = ReturnType<typeof createDeliveryMetrics>;

/**
 * Queue gauges read from storage when Prometheus scrapes (the queue lives in the database, so every
 * node reports the same depth). Time to drain is depth over the delivery rate of the last minute.
 */
export function createQueueMetrics(
  registry: Registry,
  deps: {
    stats: () => Promise<{ domain: string; depth: number; oldestAt: number }[]>;
    now: () => number;
    deliveredLastMinute: () => number;
  },
) {
  let cache: { at: number; rows: { domain: string; depth: number; oldestAt: number }[] } | null = null;
  async function rows() {
    // One scrape reads the three gauges; read storage once per scrape, not three times.
    if (!cache || deps.now() - cache.at > 1000) cache = { at: deps.now(), rows: await deps.stats() };
    return cache.rows;
  }
  const registers = [registry];
  new Gauge({
    name: 'postwarden_queue_depth',
    help: 'Undelivered recipients (queued, deferred, in flight) per recipient domain (top 200).',
    labelNames: ['domain'] as const,
    registers,
    async collect() {
      this.reset();
      for (const r of await rows()) this.set({ domain: r.domain }, r.depth);
    },
  });
  new Gauge({
    name: 'postwarden_queue_oldest_age_seconds',
    help: 'Age of the oldest undelivered recipient per recipient domain (top 200).',
    labelNames: ['domain'] as const,
    registers,
    async collect() {
      this.reset();
      const now = deps.now();
      for (const r of await rows()) this.set({ domain: r.domain }, Math.max(0, (now - r.oldestAt) / 1000));
    },
  });
  new Gauge({
    name: 'postwarden_queue_time_to_drain_seconds',
    help: 'Whole queue depth divided by the delivery rate of the last minute (+Inf when nothing was delivered).',
    registers,
    async collect() {
      const depth = (await rows()).reduce((n, r) => n + r.depth, 0);
      const perSecond = deps.deliveredLastMinute() / 60;
      this.set(depth === 0 ? 0 : perSecond > 0 ? depth / perSecond : Number.POSITIVE_INFINITY);
    },
  });
}
