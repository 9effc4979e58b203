/**
 * Leased work: rows a node takes for a while (a recipient to deliver, a webhook attempt to POST) and
 * settles with an outcome. The store implements it once per kind of work (store/repositories/
 * recipients.ts, webhook-deliveries.ts) because the rows and their due order differ; what they share
 * is the contract below, and the one worker loop (queue/worker.ts) that drives any of them.
 *
 * The contract, whatever the kind:
 * - `claimDue` moves due items to in-flight under `owner` until `now + leaseMs` and counts an
 *   attempt. Items whose lease lapsed (their node died) are due again, ahead of new work. On
 *   PostgreSQL several nodes claim at once (FOR UPDATE SKIP LOCKED); SQLite has one writer.
 * - Settling (done, retry at a time, dead) is guarded by the lease owner, so a node whose lease was
 *   taken over never overwrites the new owner's outcome. Each kind settles in its own transaction
 *   with its own events, so settle is not part of this interface.
 * - `renewLeases` is the heartbeat of a live node over the items it is working on.
 * - `releaseOwned` gives back every lease at a clean stop without counting an attempt.
 */
export interface ClaimRequest {
  owner: string;
  now: number;
  leaseMs: number;
  limit: number;
}

export interface LeasedWork<Item> {
  claimDue(o: ClaimRequest): Promise<Item[]>;
  renewLeases(owner: string, ids: readonly string[], expiresAt: number): Promise<number>;
  releaseOwned(owner: string, now: number): Promise<number>;
}

/** How a settled item leaves in-flight: finished, tried again at a time, or given up on. */
export type SettleOutcome = { kind: 'done' } | { kind: 'retry'; at: number } | { kind: 'dead'; reason: string };
