import { batchedRead, type Clock, type DeliveryEvidence, type NewEvent, newId, servesRegion } from '../core/index.js';
import { bounceSuppression, type Suppress, type SuppressRequest } from '../feedback/index.js';
import { createGroupCommitter, createWorker, isExpired, nextAttemptDelayMs } from '../queue/index.js';
import type { RecipientRow, Store, TlsAttemptRow } from '../store/index.js';
import type { DeliveryMetrics } from './metrics.js';
import { type OutcomeEventType, outcomeEvent } from './outcome-event.js';
import type { DeliveryOutcome, Transport } from './transport.js';

/**
 * Delivery of recipients on the queue's one worker loop (queue/worker.ts claims a window of due
 * recipients under a lease, heartbeats and returns leases at stop): each message's recipients go to
 * the transport, and every outcome settles in a transaction with its event. Settles from concurrent
 * deliveries share transactions (group commit). A settle whose lease was lost (this node stalled
 * past the lease and another took over) is dropped, so one outcome never overwrites another.
 *
 * A hard bounce the MX gave during the transaction suppresses the address by the same rule, and
 * in the same transaction, as an asynchronous bounce (`bounceSuppression`): the settle, its event
 * and the suppression are stored together or not at all.
 *
 * Sandbox messages go to the sandbox transport whatever the node's transport is.
 */
export interface DelivererDeps {
  store: Store;
  clock: Clock;
  transport: Transport;
  sandboxTransport: Transport;
  owner: string;
  concurrency: number;
  leaseMs: number;
  pollMs: number;
  retryMinutes: number[];
  maxAgeHours: number;
  log?: { warn(obj: object, msg: string): void; error(obj: object, msg: string): void };
  metrics?: DeliveryMetrics;
  /** The feedback path's suppression (tenant policy applied); absent, bounces suppress nothing. */
  suppress?: Suppress;
  /**
   * This node's data region (`residency.region`; '' or absent: none). Recipients of tenants pinned
   * to another region are never claimed, and a group whose tenant was re-pinned after its claim
   * goes back to the queue unsent (docs/residency.md).
   */
  region?: string;
}

/** How long the tenant's region is trusted from memory for the check before sending. */
const REGION_CACHE_MS = 5_000;

interface SettleItem {
  recipient: RecipientRow;
  outcome: DeliveryOutcome | { kind: 'expired'; details: DeliveryEvidence };
  tenantId: string;
}

export function createDeliverer(deps: DelivererDeps) {
  const { store, clock } = deps;
  const region = deps.region ?? '';
  const regions = new Map<string, { region: string | null; until: number }>();
  /** The tenant's pinned region through a short cache (the claim already filtered on it). */
  async function tenantRegion(tenantId: string): Promise<string | null> {
    const now = clock.now();
    const hit = regions.get(tenantId);
    if (hit && hit.until > now) return hit.region;
    const t = await store.tenants.get(tenantId);
    if (regions.size >= 10_000) regions.clear();
    regions.set(tenantId, { region: t?.dataRegion ?? null, until: now + REGION_CACHE_MS });
    return t?.dataRegion ?? null;
  }
  /**
   * Deliveries per second over the last minute, for the time-to-drain gauge: a fixed ring of 60
   * counters, so memory stays constant whether or not anything scrapes the metrics.
   */
  const ringCount = new Array<number>(60).fill(0);
  const ringSecond = new Array<number>(60).fill(-1);
  function countDelivery(now: number): void {
    const second = Math.floor(now / 1000);
    const i = second % 60;
    if (ringSecond[i] !== second) {
      ringSecond[i] = second;
      ringCount[i] = 0;
    }
    ringCount[i]! += 1;
  }

  /** What an outcome makes of its recipient: the state, event and retry time it settles with. */
  function settleOf(it: SettleItem, now: number) {
    const r = it.recipient;
    const o = it.outcome;
    const reply = 'reply' in o && o.reply ? o.reply : undefined;
    let state: RecipientRow['state'];
    let nextAttemptAt: number | undefined;
    let type: OutcomeEventType;
    switch (o.kind) {
      case 'delivered':
        state = 'delivered';
        type = 'recipient.delivered';
        break;
      case 'bounced':
        state = 'bounced';
        type = 'recipient.bounced';
        break;
      case 'failed':
        state = 'failed';
        type = 'recipient.failed';
        break;
      case 'expired':
        state = 'expired';
        type = 'recipient.expired';
        break;
      case 'deferred':
        if (isExpired(r.createdAt, now, deps.maxAgeHours)) {
          state = 'expired';
          type = 'recipient.expired';
        } else {
          state = 'deferred';
          type = 'recipient.deferred';
          nextAttemptAt = o.retryAt ?? now + nextAttemptDelayMs(r.attempts, deps.retryMinutes);
        }
        break;
    }
    const refundAttempt = 'attempted' in o && o.attempted === false;
    return { state, type, nextAttemptAt, reply, lastReply: reply ? { ...reply } : null, refundAttempt };
  }

  /**
   * A message and its body, read with those of the other groups the worker started in the same
   * turn (a claimed window): one query per window instead of one per message.
   */
  const messageWithBody = batchedRead((ids: string[]) => store.messages.withBodies(ids));

  // Outcomes linger a few milliseconds for company: nobody waits on them but the lease, and larger
  // transactions write each index page once for many rows (profiles: commits were the top cost).
  const settler = createGroupCommitter<SettleItem, boolean>({
    lingerMs: 10,
    commit: (items) =>
      store.transaction(async (tx) => {
        const now = clock.now();
        const events: NewEvent[] = [];
        const tlsAttempts: TlsAttemptRow[] = [];
        const suppressions: SuppressRequest[] = [];
        const settles = items.map((it) => settleOf(it, now));
        // One statement for the batch's recipients (on PostgreSQL, not a round trip per message).
        const results = await tx.recipients.settleMany(
          settles.map((s, i) => ({
            id: items[i]!.recipient.id,
            tenantId: items[i]!.recipient.tenantId,
            owner: deps.owner,
            state: s.state,
            now,
            nextAttemptAt: s.nextAttemptAt,
            lastReply: s.lastReply,
            refundAttempt: s.refundAttempt,
          })),
        );
        for (const [i, it] of items.entries()) {
          if (!results[i]) continue;
          const r = it.recipient;
          const o = it.outcome;
          const { state, type, nextAttemptAt, reply, refundAttempt } = settles[i]!;
          if (state === 'delivered') countDelivery(now);
          if ('tlsAttempts' in o && o.tlsAttempts?.length) tlsAttempts.push(...tlsRows(o, r, now));
          if ('captured' in o && o.captured) {
            await tx.captured.insert({
              id: newId('cap', now),
              tenantId: it.tenantId,
              messageId: r.messageId,
              recipientId: r.id,
              envelopeFrom: o.captured.envelopeFrom,
              envelopeTo: r.address,
              capturedAt: now,
            });
          }
          const eventId = newId('evt', now);
          if (o.kind === 'bounced' && deps.suppress) {
            const request = bounceSuppression({ hard: o.details.hard === true, tenantId: it.tenantId, address: r.address, eventId });
            if (request) suppressions.push(request);
          }
          events.push(
            outcomeEvent(
              type,
              { id: eventId, tenantId: it.tenantId, messageId: r.messageId, recipientId: r.id },
              { email: r.address, attempt: refundAttempt ? r.attempts - 1 : r.attempts, reply, nextAttemptAt, details: o.details },
            ),
          );
        }
        // One insert per commit, like the events: group commit keeps its round trips.
        await tx.tlsAttempts.insert(tlsAttempts);
        await tx.events.append(events, now);
        for (const request of suppressions) await deps.suppress!(request, tx);
        return results;
      }),
  });

  async function deliverGroup(recipients: RecipientRow[]): Promise<void> {
    const first = recipients[0]!;
    const pinned = await tenantRegion(first.tenantId);
    if (!servesRegion(region, pinned)) {
      // Re-pinned between the claim and now: back to the queue, unsent and the attempt not counted.
      // The residency look reports it as held if no node of its region takes it.
      deps.log?.warn({ message: first.messageId, tenant_region: pinned, node_region: region || null }, 'residency: returned unsent');
      for (const r of recipients) {
        await store.recipients.settle({ id: r.id, owner: deps.owner, state: 'queued', now: clock.now(), refundAttempt: true });
      }
      return;
    }
    const now = clock.now();
    const due = recipients.filter((r) => !isExpired(r.createdAt, now, deps.maxAgeHours));
    const expired = recipients.filter((r) => !due.includes(r));
    const settles: Promise<boolean>[] = expired.map((recipient) =>
      settler.submit({
        recipient,
        tenantId: recipient.tenantId,
        // The last reply says why it never went (a TLS policy that could not be met, a full mailbox…).
        outcome: {
          kind: 'expired',
          details: {
            reason: `undelivered after ${deps.maxAgeHours} h${lastReplyText(recipient)}`,
            ...(recipient.lastReply ? { last_reply: recipient.lastReply } : {}),
          },
        },
      }),
    );
    if (due.length) {
      let outcomes: DeliveryOutcome[];
      try {
        const stored = await messageWithBody(first.messageId);
        if (!stored) throw new Error(`message ${first.messageId} has no stored body`);
        const { message, body } = stored;
        const transport = message.sandbox ? deps.sandboxTransport : deps.transport;
        outcomes = await transport.deliver({ message, body, recipients: due });
        // The SMTP transport counts its own outcomes by site; sandbox captures are counted here.
        if (message.sandbox) for (const o of outcomes) deps.metrics?.outcomes.inc({ site: 'sandbox', kind: o.kind });
      } catch (e) {
        deps.log?.error({ err: e, message: first.messageId }, 'delivery failed locally; deferring');
        outcomes = due.map((r) => ({ recipientId: r.id, kind: 'deferred' as const, details: { local_error: (e as Error).message } }));
      }
      const byId = new Map(outcomes.map((o) => [o.recipientId, o]));
      for (const recipient of due) {
        const outcome = byId.get(recipient.id) ?? {
          recipientId: recipient.id,
          kind: 'deferred' as const,
          details: { local_error: 'transport gave no outcome' },
        };
        settles.push(settler.submit({ recipient, tenantId: recipient.tenantId, outcome }));
      }
    }
    const results = await Promise.allSettled(settles);
    for (const r of results)
      if (r.status === 'rejected')
        deps.log?.error({ err: r.reason }, 'settling an outcome failed; the lease will expire and the work return');
  }

  const worker = createWorker<RecipientRow>({
    name: 'delivery',
    // The claim filters on residency: tenants pinned to another region are never claimed here.
    work: {
      claimDue: (o) => store.recipients.claimDue({ ...o, region }),
      renewLeases: (owner, ids, expiresAt) => store.recipients.renewLeases(owner, ids, expiresAt),
      releaseOwned: (owner, now) => store.recipients.releaseOwned(owner, now),
    },
    // A message's recipients due together go in one SMTP transaction per destination.
    groupBy: (r) => r.messageId,
    run: deliverGroup,
    clock,
    owner: deps.owner,
    concurrency: deps.concurrency,
    leaseMs: deps.leaseMs,
    pollMs: deps.pollMs,
    ...(deps.log ? { log: deps.log } : {}),
    ...(deps.metrics ? { onInFlight: (n: number) => deps.metrics!.inFlight.set(n) } : {}),
    beforeRelease: () => settler.drain(),
  });

  return {
    start: () => worker.start(),
    /** New work was accepted: look now instead of at the next poll. */
    poke: () => worker.poke(),
    /** Stops claiming, lets in-flight deliveries finish (bounded), and returns any leases left. */
    stop: (timeoutMs = 10_000) => worker.stop(timeoutMs),
    inFlight: () => worker.inFlight(),
    deliveredLastMinute(): number {
      const second = Math.floor(clock.now() / 1000);
      let n = 0;
      for (let i = 0; i < 60; i++) if (ringSecond[i]! > second - 60) n += ringCount[i]!;
      return n;
    },
  };
}

export type Deliverer = ReturnType<typeof createDeliverer>;

function lastReplyText(r: RecipientRow): string {
  const text = r.lastReply?.text;
  return typeof text === 'string' && text
    ? `; last: ${r.lastReply?.code ?? ''} ${r.lastReply?.enhanced ?? ''} ${text}`.replace(/ +/g, ' ')
    : '';
}

/** The TLS evidence rows of one settled outcome (migration 006), one per session the attempt tried. */
function tlsRows(o: DeliveryOutcome, r: RecipientRow, now: number): TlsAttemptRow[] {
  const outcome: TlsAttemptRow['outcome'] = o.kind;
  return (o.tlsAttempts ?? []).map(({ outcome: own, ...a }) => ({
    ...a,
    id: newId('att', now),
    tenantId: r.tenantId,
    messageId: r.messageId,
    recipientId: r.id,
    at: now,
    outcome: own ?? outcome,
  }));
}
