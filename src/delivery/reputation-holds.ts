import type { Clock } from '../core/index.js';
import type { ReputationHoldRow, Store } from '../store/index.js';

/**
 * The reputation ledger's holds as delivery sees them: a ledger rule (rules/pacing.yaml, evaluated
 * by src/reputation over complaints and bounces) paused an identity's stream at a provider until a
 * time. The ledger may run on another node, so the holds cross through the store; this reader keeps
 * the holds in force in memory and reloads them every `refreshMs` of the injected clock, so a hold
 * reaches delivery within the ledger's poll plus `refreshMs` (seconds, far inside the 5 minutes the
 * cold lane allows).
 *
 * A hold names a tenant, a sending domain, a stream and a provider, and holds that stream from every
 * pool of its lane (moving a paused stream to another IP is what providers call snowshoeing). Other
 * streams of the same domain at the same provider (transactional mail) are not held.
 */
export interface HoldQuery {
  tenantId: string;
  stream: string;
  provider: string | undefined;
  /** Sending domain; unknown: any hold of the stream at the provider applies. */
  domain?: string | undefined;
}

export interface ReputationHolds {
  find(q: HoldQuery): Promise<ReputationHoldRow | undefined>;
  /** Holds in force now (GET /v1/delivery/health). */
  list(): Promise<ReputationHoldRow[]>;
}

export function createReputationHolds(deps: { store: Pick<Store, 'reputation'>; clock: Clock; refreshMs: number }): ReputationHolds {
  const { store, clock } = deps;
  let loadedAt = Number.NEGATIVE_INFINITY;
  let holds: ReputationHoldRow[] = [];
  let loading: Promise<void> | undefined;

  async function current(): Promise<ReputationHoldRow[]> {
    const now = clock.now();
    if (now - loadedAt >= deps.refreshMs || now < loadedAt) {
      loading ??= store.reputation
        .activeHolds(now)
        .then((rows) => {
          holds = rows;
          loadedAt = now;
        })
        .finally(() => {
          loading = undefined;
        });
      await loading;
    }
    return holds.filter((h) => h.until > clock.now());
  }

  return {
    async find(q) {
      // A site no provider rule names is the ledger's `other`.
      const provider = q.provider ?? 'other';
      return (await current()).find(
        (h) => h.tenantId === q.tenantId && h.stream === q.stream && h.provider === provider && (!q.domain || h.domain === q.domain),
      );
    },
    list: current,
  };
}
