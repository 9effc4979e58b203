import type { Clock } from '../core/index.js';
import { type ProviderMap, providerOf } from '../feedback/index.js';
import type { OutcomeEventRow, Store } from '../store/index.js';

/**
 * Per provider (rules/providers.yaml) and per destination site (an MX host set): 1-minute buckets
 * over the last 15 minutes and 5-minute buckets over the last hour of what the sites answered,
 * read from the outcome events, with each site's circuit breaker (read-only: overrides come with
 * the reputation issue). "Accepted" is a provider's 2xx; "blocked" is a deferral or bounce the
 * classifier put in a *_block category (policy, reputation, content); latency is from our
 * acceptance to the provider's; TLS share is the share of accepted recipients sent over TLS.
 */
export interface BreakerView {
  site: string;
  state: 'closed' | 'open' | 'half-open';
  consecutive: number;
  trips: number;
  openedAt: number | null;
  retryAt: number | null;
  lastFailure: 'failure' | 'throttled' | null;
  /** Why, in words, with the last reply the site gave when one is known. */
  reason: string;
}

export interface Bucket {
  start: number;
  accepted: number;
  deferred: Record<string, number>;
  deferredTotal: number;
  bounced: number;
  blocked: number;
  latencyP50Ms: number | null;
  latencyP95Ms: number | null;
  /** Share of accepted recipients that went over TLS; null with none accepted. */
  tlsShare: number | null;
}

export interface SiteHealth {
  site: string;
  provider: string;
  breaker: BreakerView | null;
  lastReply: string | null;
  minute: Bucket[];
  fiveMinute: Bucket[];
}

export interface ProviderHealth {
  provider: string;
  sites: SiteHealth[];
  /** The provider's last hour, all sites together. */
  hour: Bucket;
}

const OUTCOMES = ['recipient.delivered', 'recipient.deferred', 'recipient.bounced'] as const;

export function createProviderHealth(deps: {
  store: Pick<Store, 'outcomes'>;
  clock: Clock;
  providers: ProviderMap;
  breakers: () => BreakerView[];
}) {
  const providerOfSite = (site: string) => providerOf(deps.providers, site.split(',')[0] ?? '') ?? 'other';
  return async function providerHealth(tenantId: string): Promise<{ at: number; providers: ProviderHealth[] }> {
    const now = deps.clock.now();
    const hourStart = (Math.floor(now / 300_000) - 11) * 300_000;
    const minuteStart = (Math.floor(now / 60_000) - 14) * 60_000;
    const events = await deps.store.outcomes.eventsSince({ tenantId, since: hourStart, types: OUTCOMES, limit: 100_000 });
    const bySite = new Map<string, OutcomeEventRow[]>();
    for (const e of events) {
      const site = typeof e.data.site === 'string' ? e.data.site : null;
      if (!site) continue;
      bySite.set(site, [...(bySite.get(site) ?? []), e]);
    }
    const breakers = new Map(deps.breakers().map((b) => [b.site, b]));
    for (const site of breakers.keys()) if (!bySite.has(site)) bySite.set(site, []);
    const sites: SiteHealth[] = [...bySite].map(([site, list]) => {
      // The site's own last refusal: our local holds (breaker, rate) quote no reply of the site.
      const last = [...list].reverse().find((e) => e.type !== 'recipient.delivered' && e.data.local_throttle === undefined);
      return {
        site,
        provider: providerOfSite(site),
        breaker: breakers.get(site) ?? null,
        lastReply: last && typeof last.data.reply === 'string' ? last.data.reply : null,
        minute: buckets(list, minuteStart, 60_000, 15),
        fiveMinute: buckets(list, hourStart, 300_000, 12),
      };
    });
    const grouped = new Map<string, SiteHealth[]>();
    for (const s of sites) grouped.set(s.provider, [...(grouped.get(s.provider) ?? []), s]);
    const providers = [...grouped]
      .map(([provider, list]) => ({
        provider,
        sites: list.sort((a, b) => a.site.localeCompare(b.site)),
        hour: buckets(
          events.filter((e) => typeof e.data.site === 'string' && providerOfSite(e.data.site) === provider),
          hourStart,
          3_600_000,
          1,
        )[0]!,
      }))
      .sort((a, b) => a.provider.localeCompare(b.provider));
    return { at: now, providers };
  };
}

function buckets(events: OutcomeEventRow[], start: number, size: number, count: number): Bucket[] {
  const out = Array.from({ length: count }, (_, i) => ({ start: start + i * size, events: [] as OutcomeEventRow[] }));
  for (const e of events) {
    const b = out[Math.floor((e.at - start) / size)];
    if (b) b.events.push(e);
  }
  return out.map(({ start, events }) => summarise(start, events));
}

function summarise(start: number, events: OutcomeEventRow[]): Bucket {
  const deferred: Record<string, number> = {};
  let accepted = 0;
  let bounced = 0;
  let blocked = 0;
  let overTls = 0;
  const latencies: number[] = [];
  for (const e of events) {
    // A deferral we made ourselves (breaker open, rate spent) has no remote reply to classify.
    const category =
      typeof e.data.category === 'string'
        ? e.data.category
        : typeof e.data.local_throttle === 'string'
          ? `local_${e.data.local_throttle}`
          : 'unclassified';
    switch (e.type) {
      case 'recipient.delivered':
        accepted++;
        if (isTls(e.data.tls)) overTls++;
        if (e.acceptedAt !== null) latencies.push(e.at - e.acceptedAt);
        break;
      case 'recipient.deferred':
        deferred[category] = (deferred[category] ?? 0) + 1;
        if (category.endsWith('_block')) blocked++;
        break;
      case 'recipient.bounced':
        bounced++;
        if (category.endsWith('_block')) blocked++;
        break;
    }
  }
  latencies.sort((a, b) => a - b);
  return {
    start,
    accepted,
    deferred,
    deferredTotal: Object.values(deferred).reduce((a, b) => a + b, 0),
    bounced,
    blocked,
    latencyP50Ms: percentile(latencies, 0.5),
    latencyP95Ms: percentile(latencies, 0.95),
    tlsShare: accepted ? overTls / accepted : null,
  };
}

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: number[], p: number): number | null {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;
}

const isTls = (tls: unknown) => typeof tls === 'object' && tls !== null && (tls as { negotiated?: unknown }).negotiated === true;

/** A breaker snapshot in words, for people. */
export function breakerReason(b: { state: string; consecutive: number; lastFailure: string | null; retryAt: number | null }): string {
  if (b.state === 'closed') return `${b.consecutive} recent ${b.lastFailure ?? 'failure'}(s), still closed`;
  const what = b.lastFailure === 'throttled' ? 'throttling replies' : 'connection or session failures';
  const until = b.retryAt ? `; next probe at ${new Date(b.retryAt).toISOString()}` : '';
  return `${b.state === 'open' ? 'open' : 'half-open'} after ${b.consecutive} consecutive ${what}${until}`;
}
