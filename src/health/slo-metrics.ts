import { Counter, Gauge, type Registry } from 'prom-client';
import type { Clock } from '../core/index.js';
import type { SloReport } from './slo.js';

/**
 * The SLIs on /metrics: value, objective and error budget left per SLI (platform-wide, this node's
 * API requests), read once per scrape; and the API request counter availability is computed from,
 * so Prometheus can sum it over nodes.
 */
export function registerSloMetrics(registry: Registry, deps: { report: () => Promise<SloReport>; clock: Clock }) {
  let cache: { at: number; report: Promise<SloReport> } | null = null;
  const report = () => {
    if (!cache || deps.clock.now() - cache.at > 1000) cache = { at: deps.clock.now(), report: deps.report() };
    return cache.report;
  };
  const registers = [registry];
  const gauge = (name: string, help: string, pick: (s: SloReport['slis'][number]) => number | null) =>
    new Gauge({
      name,
      help,
      labelNames: ['slo'] as const,
      registers,
      async collect() {
        this.reset();
        for (const s of (await report()).slis) {
          const v = pick(s);
          // No data is no sample; an infinite time to drain is +Inf.
          if (v !== null) this.set({ slo: s.name }, v);
          else if (s.name === 'queue_drain') this.set({ slo: s.name }, Number.POSITIVE_INFINITY);
        }
      },
    });
  gauge('postwarden_slo_sli', 'Current value of each SLI (seconds for queue_drain, a 0..1 ratio otherwise).', (s) => s.value);
  gauge('postwarden_slo_objective', 'Objective of each SLI (at most, for queue_drain; at least, for ratios).', (s) => s.objective);
  gauge(
    'postwarden_slo_error_budget_remaining',
    'Share of the error budget left over the SLO window (1 untouched, 0 spent, negative overspent).',
    (s) => s.errorBudgetRemaining,
  );
  const requests = new Counter({
    name: 'postwarden_api_requests_total',
    help: 'API (/v1) requests answered by this node, by status class (2xx, 3xx, 4xx, 5xx).',
    labelNames: ['class'] as const,
    registers,
  });
  return { countRequest: (status: number) => requests.inc({ class: `${Math.floor(status / 100)}xx` }) };
}
