import { type Clock, newId, type SpineEvent } from '../../core/index.js';
import type { NewWebhookDelivery, Store, WebhookEndpointRow } from '../../store/index.js';
import type { BatchWrites } from '../consumer.js';
import { endpointWants, type MessageFacts, needsMessageFacts } from './endpoint-filter.js';

/**
 * The fan-out: a spine consumer's handler (events/consumer.ts, consumer `webhooks`) that turns each
 * event into one delivery row per enabled endpoint of its tenant that wants it. Rows are unique per
 * (endpoint, event, origin), so a batch handed twice (a crash before the cursor moved) adds nothing.
 * An endpoint gets the events that happened from its creation on; earlier ones only by replay.
 */
export interface FanOutDeps {
  store: Pick<Store, 'webhookEndpoints' | 'webhookDeliveries'>;
  clock: Clock;
  /** Told when rows were added, with their events: the local worker looks at once, and need not read them again. */
  onQueued?: (events: SpineEvent[]) => void;
}

export function createFanOut(deps: FanOutDeps) {
  const { store, clock } = deps;

  /** Delivery rows for `events` to `endpoints` (filters applied), reading message facts only when a filter needs them. */
  async function deliveriesFor(events: SpineEvent[], endpoints: WebhookEndpointRow[], origin: string): Promise<NewWebhookDelivery[]> {
    const byTenant = new Map<string, WebhookEndpointRow[]>();
    for (const e of endpoints) {
      const list = byTenant.get(e.tenantId);
      if (list) list.push(e);
      else byTenant.set(e.tenantId, [e]);
    }
    let facts = new Map<string, MessageFacts>();
    if (endpoints.some(needsMessageFacts)) {
      facts = await store.webhookDeliveries.messageFacts(events.flatMap((e) => (e.messageId ? [e.messageId] : [])));
    }
    const now = clock.now();
    const rows: NewWebhookDelivery[] = [];
    for (const event of events) {
      const at = Date.parse(event.at);
      for (const endpoint of byTenant.get(event.tenantId) ?? []) {
        if (origin === 'live' && at < endpoint.createdAt) continue;
        if (!endpointWants(endpoint, event, event.messageId ? facts.get(event.messageId) : undefined)) continue;
        rows.push({
          id: newId('whd', now),
          endpointId: endpoint.id,
          tenantId: event.tenantId,
          eventId: event.id,
          eventCursor: Number(event.cursor),
          messageId: event.messageId,
          origin,
        });
      }
    }
    return rows;
  }

  return {
    deliveriesFor,
    /**
     * The consumer's handler: reads what it needs now, and returns the insert of the delivery rows
     * for the consumer to commit with its cursor advance (one commit per batch, whatever its size).
     */
    async handle(events: SpineEvent[]): Promise<BatchWrites | undefined> {
      const endpoints = await store.webhookEndpoints.enabledFor([...new Set(events.map((e) => e.tenantId))]);
      if (!endpoints.length) return undefined;
      const rows = await deliveriesFor(events, endpoints, 'live');
      if (!rows.length) return undefined;
      return {
        write: (tx) => tx.webhookDeliveries.insertMany(rows, clock.now()),
        committed: () => {
          const queued = new Set(rows.map((r) => r.eventId));
          deps.onQueued?.(events.filter((e) => queued.has(e.id)));
        },
      };
    },
  };
}

export type FanOut = ReturnType<typeof createFanOut>;
