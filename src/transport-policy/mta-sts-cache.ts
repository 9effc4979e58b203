import type { Clock } from '../core/index.js';
import type { Resolver } from '../dns/index.js';
import { type MtaStsPolicy, parseMtaStsPolicy, parseMtaStsTxt } from './mta-sts.js';
import type { FetchResult, PolicyFetcher } from './mta-sts-fetcher.js';

/**
 * The sender's MTA-STS policy cache (RFC 8461 §3.3, §5.1, §10.2).
 *
 * Design: every lookup reads the `_mta-sts` TXT record (the injected resolver caches it for its TTL),
 * because a changed `id` is how a domain announces a new policy. The policy body is fetched only when
 * the id differs from the cached one, when the cached policy has expired (`max_age` after the fetch),
 * or proactively once it is older than `refreshAfterMs` so a long-lived policy does not lapse during a
 * short HTTPS outage. The one rule that matters for security: a failure to discover or fetch never
 * replaces a still-valid cached policy (§3.3 "the sender MUST apply that cached policy"); without a
 * valid cached policy, a failure means "no policy" and delivery goes on as if the domain had none.
 * A failed fetch is not retried for `retryAfterFailureMs` per (domain, id) (§3.3 suggests five minutes),
 * so a dead policy host is not hammered once per message. Concurrent lookups of one domain share one
 * discovery. The store is injected so the lead can back it with the database; the default is memory.
 */

export interface CachedMtaStsPolicy {
  domain: string;
  id: string;
  policy: MtaStsPolicy;
  /** The body as fetched, for evidence. */
  policyText: string;
  fetchedAt: number;
  expiresAt: number;
}

export interface MtaStsStore {
  get(domain: string): Promise<CachedMtaStsPolicy | undefined>;
  put(entry: CachedMtaStsPolicy): Promise<void>;
  delete(domain: string): Promise<void>;
}

/** RFC 8460 §4.3 result types, so TLS-RPT can count policy failures without re-deriving them. */
export type StsFailureType = 'sts-policy-fetch-error' | 'sts-policy-invalid' | 'sts-webpki-invalid';

export type MtaStsLookup =
  | {
      kind: 'policy';
      domain: string;
      policy: MtaStsPolicy;
      id: string;
      source: 'cache' | 'fetched';
      fetchedAt: number;
      expiresAt: number;
      /** Why a cached policy was used despite a failure (evidence), and fetch failures seen on the way. */
      notes: string[];
    }
  | { kind: 'none'; domain: string; reason: string; resultType?: StsFailureType }
  | { kind: 'temporary-failure'; domain: string; reason: string };

export interface MtaStsCache {
  getPolicy(domain: string): Promise<MtaStsLookup>;
}

export interface MtaStsCacheDeps {
  resolver: Resolver;
  fetcher: PolicyFetcher;
  clock: Clock;
  store?: MtaStsStore;
  /** Do not retry a failed fetch of the same (domain, id) sooner than this; default 5 minutes. */
  retryAfterFailureMs?: number;
  /** Refetch a still-valid policy older than this; default 24 hours (RFC 8461 suggests once per day). */
  refreshAfterMs?: number;
}

export function createInMemoryMtaStsStore(): MtaStsStore {
  const entries = new Map<string, CachedMtaStsPolicy>();
  return {
    async get(domain) {
      return entries.get(domain);
    },
    async put(entry) {
      entries.set(entry.domain, entry);
    },
    async delete(domain) {
      entries.delete(domain);
    },
  };
}

const MAX_FAILURE_MEMORY = 10_000;

export function createMtaStsCache(deps: MtaStsCacheDeps): MtaStsCache {
  const store = deps.store ?? createInMemoryMtaStsStore();
  const retryAfterFailureMs = deps.retryAfterFailureMs ?? 5 * 60_000;
  const refreshAfterMs = deps.refreshAfterMs ?? 24 * 3_600_000;
  const inFlight = new Map<string, Promise<MtaStsLookup>>();
  const failures = new Map<string, { at: number; reason: string; resultType: StsFailureType }>();

  function rememberFailure(key: string, reason: string, resultType: StsFailureType, now: number): void {
    if (failures.size >= MAX_FAILURE_MEMORY) {
      for (const [k, f] of failures) if (now - f.at >= retryAfterFailureMs) failures.delete(k);
      const oldest = failures.keys().next();
      if (failures.size >= MAX_FAILURE_MEMORY && !oldest.done) failures.delete(oldest.value);
    }
    failures.set(key, { at: now, reason, resultType });
  }

  type Fetched = { ok: true; entry: CachedMtaStsPolicy } | { ok: false; reason: string; resultType: StsFailureType };

  async function fetchAndStore(domain: string, id: string, now: number): Promise<Fetched> {
    const key = `${domain} ${id}`;
    const recent = failures.get(key);
    if (recent && now - recent.at < retryAfterFailureMs) {
      const reason = `${recent.reason} (not retried until ${retryAfterFailureMs} ms after)`;
      return { ok: false, reason, resultType: recent.resultType };
    }
    const res = await deps.fetcher(domain);
    if (!res.ok) {
      const reason = `policy fetch failed: ${res.message}`;
      const resultType = fetchFailureType(res);
      rememberFailure(key, reason, resultType, now);
      return { ok: false, reason, resultType };
    }
    const parsed = parseMtaStsPolicy(res.body);
    if (!parsed.ok) {
      const reason = `policy invalid: ${parsed.errors.map((e) => (e.line ? `line ${e.line}: ` : '') + e.message).join('; ')}`;
      rememberFailure(key, reason, 'sts-policy-invalid', now);
      return { ok: false, reason, resultType: 'sts-policy-invalid' };
    }
    failures.delete(key);
    const entry: CachedMtaStsPolicy = {
      domain,
      id,
      policy: parsed.policy,
      policyText: res.body,
      fetchedAt: now,
      expiresAt: now + parsed.policy.maxAge * 1000,
    };
    await store.put(entry);
    return { ok: true, entry };
  }

  function fromEntry(entry: CachedMtaStsPolicy, source: 'cache' | 'fetched', notes: string[]): MtaStsLookup {
    return {
      kind: 'policy',
      domain: entry.domain,
      policy: entry.policy,
      id: entry.id,
      source,
      fetchedAt: entry.fetchedAt,
      expiresAt: entry.expiresAt,
      notes,
    };
  }
  const fromCache = (entry: CachedMtaStsPolicy, notes: string[]) => fromEntry(entry, 'cache', notes);
  const fetched = (entry: CachedMtaStsPolicy, notes: string[]) => fromEntry(entry, 'fetched', notes);

  async function discover(domain: string): Promise<MtaStsLookup> {
    const now = deps.clock.now();
    const stored = await store.get(domain);
    const cached = stored && stored.expiresAt > now ? stored : undefined;

    const txt = await deps.resolver.lookup(`_mta-sts.${domain}`, 'TXT');
    if (txt.kind === 'error') {
      const reason = `_mta-sts TXT lookup failed: ${txt.failure} ${txt.message}`.trim();
      if (cached) return fromCache(cached, [`${reason}; cached policy applied (RFC 8461 §3.3)`]);
      return { kind: 'temporary-failure', domain, reason };
    }
    const parsedTxt = parseMtaStsTxt(txt.kind === 'answer' ? txt.records : []);
    if (!parsedTxt.ok) {
      if (cached) return fromCache(cached, [`${parsedTxt.message}; cached policy applied (RFC 8461 §3.3)`]);
      return { kind: 'none', domain, reason: parsedTxt.message };
    }

    const { id } = parsedTxt;
    if (cached && cached.id === id) {
      if (now - cached.fetchedAt < refreshAfterMs) return fromCache(cached, []);
      const refreshed = await fetchAndStore(domain, id, now);
      if (refreshed.ok) return fetched(refreshed.entry, ['proactive refresh']);
      return fromCache(cached, [`refresh failed, cached policy kept: ${refreshed.reason}`]);
    }

    const result = await fetchAndStore(domain, id, now);
    if (result.ok) {
      const notes = cached ? [`policy id changed from ${cached.id} to ${id}`] : [];
      return fetched(result.entry, notes);
    }
    if (cached) {
      // §3.3: never downgrade. The new id is retried after the back-off; until then the old policy holds.
      return fromCache(cached, [`TXT announces id ${id} but ${result.reason}; cached policy ${cached.id} applied (RFC 8461 §3.3)`]);
    }
    return { kind: 'none', domain, reason: result.reason, resultType: result.resultType };
  }

  return {
    getPolicy(domain: string): Promise<MtaStsLookup> {
      const key = domain.toLowerCase().replace(/\.$/, '');
      const running = inFlight.get(key);
      if (running) return running;
      const p = discover(key).finally(() => inFlight.delete(key));
      inFlight.set(key, p);
      return p;
    },
  };
}

function fetchFailureType(res: Extract<FetchResult, { ok: false }>): StsFailureType {
  // RFC 8460 §4.3.1: certificate problems at the policy host are "sts-webpki-invalid".
  return res.failure === 'certificate' ? 'sts-webpki-invalid' : 'sts-policy-fetch-error';
}
