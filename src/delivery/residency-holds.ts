import { type Clock, type NewEvent, newEvent } from '../core/index.js';
import type { Store } from '../store/index.js';

/**
 * Residency holds (docs/residency.md). A delivery node never claims recipients of a tenant pinned to
 * another region (the claim itself filters them, recipients.claimDue), so they wait for a node of
 * that region. When none takes them — no such node runs, or the tenant was re-pinned after its mail
 * was queued — the wait must not be silent: this look, run on one delivery node per region at a
 * time, marks recipients due for longer than `holdAfterMs` as held (`held_reason`, shown on the
 * recipient) and records one `recipient.held` event each, in one transaction. The rows keep their
 * state: nothing is lost, and a node of the tenant's region delivers them whenever it claims them
 * (the claim clears the mark, so a later hold is reported again).
 */
export interface ResidencyHoldsDeps {
  store: Store;
  clock: Clock;
  /** This node's region ('' = none). */
  region: string;
  holdAfterMs: number;
  /** Recipients marked per look at most (the next look takes the rest). */
  limit?: number;
}

export function createResidencyHolds(deps: ResidencyHoldsDeps) {
  const limit = deps.limit ?? 500;
  return {
    /** One bounded look; returns how many recipients it marked held. */
    async sweep(): Promise<number> {
      const now = deps.clock.now();
      return deps.store.transaction(async (tx) => {
        const held = await tx.recipients.markHeld({ region: deps.region, dueBefore: now - deps.holdAfterMs, now, limit });
        if (!held.length) return 0;
        const events: NewEvent[] = held.map(({ recipient: r, tenantRegion }) =>
          newEvent(
            'recipient.held',
            { tenantId: r.tenantId, messageId: r.messageId, recipientId: r.id },
            {
              email: r.address,
              state: r.state === 'deferred' ? 'deferred' : 'queued',
              tenant_region: tenantRegion,
              node_region: deps.region || null,
              due_since: new Date(r.nextAttemptAt).toISOString(),
              reason: r.heldReason ?? `residency: pinned to region ${tenantRegion}`,
            },
          ),
        );
        await tx.events.append(events, now);
        return held.length;
      });
    },
  };
}

export type ResidencyHolds = ReturnType<typeof createResidencyHolds>;
