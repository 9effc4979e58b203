import type { Clock, EventType } from '../core/index.js';
import type { Store } from '../store/index.js';
import { type Comparison, type Proportion, rate, twoProportionTest, wilson } from './experiment-stats.js';
import type { Experiment, OutcomeMetric } from './experiments.js';

/**
 * Results of an experiment, per variant and per provider, read from the events spine (so the same
 * events always give the same results), and the regression check: a variant whose bounce or
 * complaint rate is significantly higher than the control's at any provider is flagged, whatever
 * it does for opens and clicks, with a suggestion to roll back, and announced once as an
 * `experiment.regressed` event.
 *
 * Per recipient: sent = `recipient.queued`; delivered, bounced (either at the SMTP transaction or
 * asynchronously), complained, unsubscribed; opened and clicked count only hits not flagged
 * `machine` (Apple's proxy, scanners). Denominators: delivered and bounces over sent; the others
 * over delivered. The provider is that of the MX host the recipient was delivered to (or bounced
 * by), else of the recipient's domain (rules/providers.yaml); `other` when neither is known.
 */
export interface ResultsDeps {
  store: Pick<Store, 'experiments' | 'events'>;
  clock: Clock;
  /** Provider key of an MX host or mail domain (feedback's provider map), undefined when unknown. */
  providerOf: (hostOrDomain: string) => string | undefined;
  /** Significance level of the one-sided regression test (default 0.05). */
  alpha: number;
  /** Fewest sent per arm at a provider before a regression may be called there. */
  minSample: number;
}

interface Tally {
  sent: number;
  delivered: number;
  bounces: number;
  complaints: number;
  unsubscribes: number;
  opens: number;
  clicks: number;
  machine_opens: number;
  machine_clicks: number;
}

const emptyTally = (): Tally => ({
  sent: 0,
  delivered: 0,
  bounces: 0,
  complaints: 0,
  unsubscribes: 0,
  opens: 0,
  clicks: 0,
  machine_opens: 0,
  machine_clicks: 0,
});

const denominator: Record<OutcomeMetric, 'sent' | 'delivered'> = {
  delivered: 'sent',
  bounces: 'sent',
  complaints: 'delivered',
  unsubscribes: 'delivered',
  opens: 'delivered',
  clicks: 'delivered',
};

/** Metrics where higher is worse: these are the ones a regression is called on. */
const harmful: OutcomeMetric[] = ['bounces', 'complaints'];

const types: EventType[] = [
  'recipient.queued',
  'recipient.delivered',
  'recipient.bounced',
  'recipient.complained',
  'recipient.unsubscribed',
  'recipient.opened',
  'recipient.clicked',
];

interface RecipientOutcome {
  variant: string;
  domain: string;
  mx?: string;
  flags: Set<string>;
}

export interface MetricResult {
  metric: OutcomeMetric;
  count: number;
  of: number;
  rate: number;
  interval: [number, number];
}

export interface ArmResult {
  variant: string;
  provider: string;
  tally: Tally;
  metrics: MetricResult[];
}

export interface ComparisonResult extends Comparison {
  variant: string;
  control: string;
  provider: string;
  metric: OutcomeMetric;
  significant: boolean;
}

export interface Regression {
  variant: string;
  provider: string;
  metric: OutcomeMetric;
  rate: number;
  controlRate: number;
  z: number;
  pValue: number;
  suggestion: string;
}

export interface ExperimentResults {
  experimentId: string;
  control: string;
  computedAt: number;
  /** Overall per variant (provider `all`), then per variant and provider. */
  arms: ArmResult[];
  comparisons: ComparisonResult[];
  regressions: Regression[];
}

export function createExperimentResults(deps: ResultsDeps) {
  async function outcomes(e: Experiment): Promise<Map<string, RecipientOutcome>> {
    const byRecipient = new Map<string, RecipientOutcome>();
    let after = 0;
    // Bounded: 2,000 pages of 1,000 events; an experiment larger than that is read in part (and says so in the docs).
    for (let page = 0; page < 2000; page++) {
      const rows = await deps.store.experiments.events(e.id, types, after, 1000);
      for (const ev of rows) {
        const email = typeof ev.data.email === 'string' ? ev.data.email.toLowerCase() : ev.recipient;
        const key = `${ev.variant}\n${email}`;
        let o = byRecipient.get(key);
        if (!o) {
          o = { variant: ev.variant, domain: email.slice(email.lastIndexOf('@') + 1), flags: new Set() };
          byRecipient.set(key, o);
        }
        if (typeof ev.data.mx === 'string' && ev.data.mx) o.mx = ev.data.mx;
        const machine = ev.data.machine === true;
        switch (ev.type) {
          case 'recipient.queued':
            o.flags.add('sent');
            break;
          case 'recipient.delivered':
            o.flags.add('delivered');
            break;
          case 'recipient.bounced':
            o.flags.add('bounces');
            break;
          case 'recipient.complained':
            o.flags.add('complaints');
            break;
          case 'recipient.unsubscribed':
            o.flags.add('unsubscribes');
            break;
          case 'recipient.opened':
            o.flags.add(machine ? 'machine_opens' : 'opens');
            break;
          case 'recipient.clicked':
            o.flags.add(machine ? 'machine_clicks' : 'clicks');
            break;
          default:
            break;
        }
      }
      if (rows.length < 1000) break;
      after = rows[rows.length - 1]!.cursor;
    }
    return byRecipient;
  }

  function metricsOf(t: Tally, wanted: OutcomeMetric[], alpha: number): MetricResult[] {
    return wanted.map((metric) => {
      const p: Proportion = { x: t[metric], n: t[denominator[metric]] };
      return { metric, count: p.x, of: p.n, rate: rate(p), interval: wilson(p, alpha) };
    });
  }

  return {
    async compute(e: Experiment): Promise<ExperimentResults> {
      const tallies = new Map<string, Tally>();
      const tallyOf = (variant: string, provider: string) => {
        const k = `${variant}\n${provider}`;
        let t = tallies.get(k);
        if (!t) tallies.set(k, (t = emptyTally()));
        return t;
      };
      for (const v of e.variants) tallyOf(v.key, 'all');
      for (const o of (await outcomes(e)).values()) {
        if (!o.flags.has('sent')) continue;
        const provider = (o.mx && deps.providerOf(o.mx)) || deps.providerOf(o.domain) || 'other';
        for (const t of [tallyOf(o.variant, 'all'), tallyOf(o.variant, provider)]) {
          for (const f of o.flags) t[f as keyof Tally] += 1;
        }
      }
      const arms: ArmResult[] = [...tallies.entries()]
        .map(([k, tally]) => {
          const [variant, provider] = k.split('\n') as [string, string];
          return { variant, provider, tally, metrics: metricsOf(tally, e.metrics, deps.alpha) };
        })
        .sort(
          (a, b) =>
            (a.provider === 'all' ? 0 : 1) - (b.provider === 'all' ? 0 : 1) ||
            a.provider.localeCompare(b.provider) ||
            a.variant.localeCompare(b.variant),
        );

      const comparisons: ComparisonResult[] = [];
      const regressions: Regression[] = [];
      for (const arm of arms) {
        if (arm.variant === e.control) continue;
        const base = tallies.get(`${e.control}\n${arm.provider}`);
        if (!base) continue;
        for (const metric of new Set([...e.metrics, ...harmful])) {
          const d = denominator[metric];
          const c = twoProportionTest({ x: arm.tally[metric], n: arm.tally[d] }, { x: base[metric], n: base[d] }, deps.alpha);
          if (!c) continue;
          const enough = arm.tally.sent >= deps.minSample && base.sent >= deps.minSample;
          const significant = enough && c.pHigher < deps.alpha;
          comparisons.push({ ...c, variant: arm.variant, control: e.control, provider: arm.provider, metric, significant });
          if (significant && harmful.includes(metric)) {
            const r = rate({ x: arm.tally[metric], n: arm.tally[d] });
            const cr = rate({ x: base[metric], n: base[d] });
            regressions.push({
              variant: arm.variant,
              provider: arm.provider,
              metric,
              rate: r,
              controlRate: cr,
              z: c.z,
              pValue: c.pHigher,
              suggestion:
                `Roll back variant ${arm.variant}: its ${metric === 'complaints' ? 'complaint' : 'bounce'} rate at ${arm.provider} is ` +
                `${(r * 100).toFixed(2)}% against ${(cr * 100).toFixed(2)}% for control ${e.control} (z = ${c.z.toFixed(2)}, one-sided p = ${c.pHigher.toPrecision(2)}). ` +
                `POST /v1/experiments/${e.id}/stop with {"variant":"${e.control}"} sends every later message as ${e.control}.`,
            });
          }
        }
      }
      return { experimentId: e.id, control: e.control, computedAt: deps.clock.now(), arms, comparisons, regressions };
    },

    /** Computes the results and announces each new regression once (`experiment.regressed`). */
    async evaluate(e: Experiment): Promise<ExperimentResults> {
      const results = await this.compute(e);
      const now = deps.clock.now();
      for (const r of results.regressions) {
        const key = `${e.id}|${r.variant}|${r.provider}|${r.metric}`;
        if (!(await deps.store.experiments.flag(key, e.id, now))) continue;
        await deps.store.events.append(
          [
            {
              type: 'experiment.regressed',
              tenantId: e.tenantId,
              data: {
                experiment_id: e.id,
                variant: r.variant,
                control: e.control,
                provider: r.provider,
                metric: r.metric === 'bounces' ? 'bounces' : 'complaints',
                rate: r.rate,
                control_rate: r.controlRate,
                z: r.z,
                p_value: r.pValue,
                suggestion: r.suggestion,
                rollback: { variant: e.control },
              },
            },
          ],
          now,
        );
      }
      return results;
    },
  };
}

export type ExperimentResultsService = ReturnType<typeof createExperimentResults>;
