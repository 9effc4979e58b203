import type { Kysely } from 'kysely';
import type { EventType } from '../../core/index.js';
import type { ContentCipher } from '../content-cipher.js';
import type { Database } from '../schema.js';
import { openEventData } from './events.js';

/**
 * The read side the dashboard and the SLOs need over the event log: counts and outcome events in a
 * time window, and the samples two SLIs are computed from. Every read is bounded in time (indexes of
 * migration 016) and in rows; a tenant filter is optional because /metrics speaks for the platform.
 */
export interface OutcomeEventRow {
  type: EventType;
  at: number;
  tenantId: string;
  messageId: string | null;
  recipientId: string | null;
  data: Record<string, unknown>;
  /** When the recipient was accepted (null for events without a recipient). */
  acceptedAt: number | null;
}

/** One recipient accepted in a window and when (if ever) a provider accepted it. */
export interface AcceptanceSample {
  acceptedAt: number;
  deliveredAt: number | null;
}

/** One recipient deferred in a window: its first deferral there, and its delivery if any. */
export interface RetrySample {
  firstDeferredAt: number;
  deliveredAt: number | null;
}

export function outcomesRepository(db: Kysely<Database>, cipher: ContentCipher) {
  return {
    async countsSince(q: { tenantId?: string; since: number; types: readonly EventType[] }): Promise<Map<EventType, number>> {
      let s = db
        .selectFrom('events')
        .select(['type', (eb) => eb.fn.countAll<number>().as('n')])
        .where('at', '>=', q.since)
        .where('type', 'in', [...q.types]);
      if (q.tenantId) s = s.where('tenant_id', '=', q.tenantId);
      const rows = await s.groupBy('type').execute();
      return new Map(rows.map((r) => [r.type as EventType, Number(r.n)]));
    },

    /** Events of these types since a time, oldest first, at most `limit`. */
    async eventsSince(q: { tenantId?: string; since: number; types: readonly EventType[]; limit: number }): Promise<OutcomeEventRow[]> {
      let s = db
        .selectFrom('events')
        .leftJoin('recipients', 'recipients.id', 'events.recipient_id')
        .select([
          'events.id',
          'events.type',
          'events.at',
          'events.tenant_id',
          'events.message_id',
          'events.recipient_id',
          'events.data',
          'recipients.created_at as accepted_at',
        ])
        .where('events.at', '>=', q.since)
        .where('events.type', 'in', [...q.types]);
      if (q.tenantId) s = s.where('events.tenant_id', '=', q.tenantId);
      const rows = await s.orderBy('events.at').limit(q.limit).execute();
      return Promise.all(
        rows.map(async (r) => ({
          type: r.type as EventType,
          at: Number(r.at),
          tenantId: r.tenant_id,
          messageId: r.message_id,
          recipientId: r.recipient_id,
          data: await openEventData(db, cipher, r.id, r.data),
          acceptedAt: r.accepted_at == null ? null : Number(r.accepted_at),
        })),
      );
    },

    /**
     * Recipients accepted in [from, to) that were meant to be sent (not suppressed or refused at
     * accept), with their first delivery time.
     */
    async acceptanceSample(q: { tenantId?: string; from: number; to: number; limit: number }): Promise<AcceptanceSample[]> {
      let s = db
        .selectFrom('recipients')
        .leftJoin('events', (j) => j.onRef('events.recipient_id', '=', 'recipients.id').on('events.type', '=', 'recipient.delivered'))
        .select(['recipients.created_at', (eb) => eb.fn.min('events.at').as('delivered_at')])
        .where('recipients.created_at', '>=', q.from)
        .where('recipients.created_at', '<', q.to)
        .where('recipients.state', 'not in', ['suppressed', 'failed']);
      if (q.tenantId) s = s.where('recipients.tenant_id', '=', q.tenantId);
      const rows = await s.groupBy(['recipients.id', 'recipients.created_at']).limit(q.limit).execute();
      return rows.map((r) => ({ acceptedAt: Number(r.created_at), deliveredAt: r.delivered_at == null ? null : Number(r.delivered_at) }));
    },

    /** Recipients with a `recipient.deferred` event in [from, to): the soft bounces to be retried. */
    async retrySample(q: { tenantId?: string; from: number; to: number; limit: number }): Promise<RetrySample[]> {
      let s = db
        .selectFrom('events as d')
        .leftJoin('events as ok', (j) => j.onRef('ok.recipient_id', '=', 'd.recipient_id').on('ok.type', '=', 'recipient.delivered'))
        .select([(eb) => eb.fn.min('d.at').as('first_deferred_at'), (eb) => eb.fn.min('ok.at').as('delivered_at')])
        .where('d.type', '=', 'recipient.deferred')
        .where('d.at', '>=', q.from)
        .where('d.at', '<', q.to);
      if (q.tenantId) s = s.where('d.tenant_id', '=', q.tenantId);
      const rows = await s.groupBy('d.recipient_id').limit(q.limit).execute();
      return rows.map((r) => ({
        firstDeferredAt: Number(r.first_deferred_at),
        deliveredAt: r.delivered_at == null ? null : Number(r.delivered_at),
      }));
    },
  };
}
