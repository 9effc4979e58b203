import { type Actor, type AuditRecorder, unattributed } from '../audit/index.js';
import { type EventType, messageState, PostwardenError, type SpineEvent } from '../core/index.js';
import type { CapturedRow, MessageRow, MessageSearch, RecipientRow, Repositories, Store } from '../store/index.js';
import { createEventExport } from './export.js';

/**
 * The read side of the events spine: pages by cursor for consumers, and a message's whole story
 * (state, recipients, ordered timeline) for people. Appends happen inside the transactions that
 * change state (accept, delivery), never here.
 */
export interface MessageView {
  message: MessageRow;
  state: ReturnType<typeof messageState>;
  recipients: RecipientRow[];
  events: SpineEvent[];
}

export function createSpine({
  store,
  audit,
}: {
  store: Pick<Store, 'events' | 'messages' | 'recipients' | 'captured'>;
  /** Records deletions from the sandbox inbox, in the deletion's transaction. */
  audit?: AuditRecorder;
}) {
  const exporter = createEventExport({ store });
  return {
    /** A streamed export for warehouses (export.ts): NDJSON or CSV, one row per event. */
    export: exporter.open,

    async page(q: { tenantId: string; after?: string; types?: EventType[]; limit: number }) {
      const after = q.after ? Number(q.after) : 0;
      if (!Number.isSafeInteger(after) || after < 0) {
        throw new PostwardenError('VALIDATION_FAILED', 'after must be a cursor returned by this API', {
          errors: [{ path: '/after', message: 'must be a cursor returned by this API' }],
        });
      }
      const data = await store.events.page({ tenantId: q.tenantId, after, types: q.types, limit: q.limit });
      // The cursor to resume from: the last event's, or the one given when the page is empty, so a
      // tailing consumer can poll with what it holds.
      const next = data.length ? data[data.length - 1]!.cursor : String(after);
      return { data, nextCursor: next };
    },

    async message(tenantId: string, id: string): Promise<MessageView> {
      const message = await store.messages.get(id, tenantId);
      if (!message) throw new PostwardenError('NOT_FOUND', `message ${id} does not exist`, { id });
      const [recipients, events] = await Promise.all([store.recipients.listByMessage(id), store.events.forMessage(id)]);
      return { message, state: messageState(recipients.map((r) => r.state)), recipients, events };
    },

    listMessages: (tenantId: string, opts: { before?: string; limit: number }) => store.messages.list(tenantId, opts),

    /**
     * Outcomes per minute for the last `minutes` minutes, every minute present (zeros included) so a
     * dashboard can plot the series as it is.
     */
    async deliveryMinutes(tenantId: string, minutes: number, now: number) {
      const first = Math.floor(now / 60_000) - minutes + 1;
      const counts = await store.events.minuteCounts(tenantId, first * 60_000, [...bucketTypes]);
      const buckets = Array.from({ length: minutes }, (_, i) => ({
        minute: new Date((first + i) * 60_000).toISOString(),
        accepted: 0,
        delivered: 0,
        deferred: 0,
        bounced: 0,
        expired: 0,
        failed: 0,
        suppressed: 0,
      }));
      for (const c of counts) {
        const b = buckets[c.minute - first];
        if (b) b[bucketField[c.type as (typeof bucketTypes)[number]]] += c.count;
      }
      return buckets;
    },

    /** Recipient states, for synchronous sends waiting on their first outcomes. */
    recipientsOf: (messageIds: string[]) => store.recipients.listByMessages(messageIds),

    listCaptured: (tenantId: string, opts: { before?: string; limit: number }) => store.captured.list(tenantId, opts),

    /** The sandbox inbox: captures, newest first, each with its message's From and Subject. */
    async listInbox(tenantId: string, opts: { before?: string; limit: number }) {
      const captures = await store.captured.list(tenantId, opts);
      const messages = new Map((await store.messages.getMany([...new Set(captures.map((c) => c.messageId))])).map((m) => [m.id, m]));
      return captures.map((capture) => ({ capture, message: messages.get(capture.messageId) }));
    },

    /**
     * Sandbox inbox housekeeping: the capture goes, the message and its events stay. Recorded as
     * `sandbox_message.deleted` in the deletion's transaction (the envelope only, never the content).
     */
    async deleteCaptured(tenantId: string, id: string, actor: Actor = unattributed): Promise<void> {
      const remove = async (tx: Pick<Repositories, 'captured'>) => {
        const row = await tx.captured.get(tenantId, id);
        if (!row || !(await tx.captured.delete(tenantId, id)))
          throw new PostwardenError('NOT_FOUND', `captured message ${id} does not exist`, { id });
        return row;
      };
      if (!audit) return void (await remove(store));
      await audit.change(remove, (row) => ({
        actor,
        tenantId,
        action: 'sandbox_message.deleted',
        resource: { type: 'capture', id },
        before: {
          message_id: row.messageId,
          envelope_from: row.envelopeFrom,
          envelope_to: row.envelopeTo,
          captured_at: new Date(row.capturedAt).toISOString(),
        },
      }));
    },
    /** Empties the tenant's sandbox inbox, recorded as `sandbox_message.cleared` (how many) when there was any. */
    async clearCaptured(tenantId: string, actor: Actor = unattributed): Promise<number> {
      if (!audit) return store.captured.clear(tenantId);
      return audit.change(
        (tx) => tx.captured.clear(tenantId),
        (deleted) =>
          deleted > 0
            ? { actor, tenantId, action: 'sandbox_message.cleared', resource: { type: 'capture', id: null }, after: { deleted } }
            : undefined,
      );
    },

    /** Message search (GET /v1/messages with filters). */
    searchMessages: (tenantId: string, f: MessageSearch) => store.messages.search(tenantId, f),

    async captured(tenantId: string, id: string): Promise<{ capture: CapturedRow; raw: Buffer }> {
      const capture = await store.captured.get(tenantId, id);
      const raw = capture && (await store.messages.body(capture.messageId));
      if (!capture || !raw) throw new PostwardenError('NOT_FOUND', `captured message ${id} does not exist`, { id });
      return { capture, raw };
    },
  };
}

export type Spine = ReturnType<typeof createSpine>;

const bucketTypes = [
  'message.accepted',
  'recipient.delivered',
  'recipient.deferred',
  'recipient.bounced',
  'recipient.expired',
  'recipient.failed',
  'recipient.suppressed',
] as const satisfies readonly EventType[];
const bucketField = {
  'message.accepted': 'accepted',
  'recipient.delivered': 'delivered',
  'recipient.deferred': 'deferred',
  'recipient.bounced': 'bounced',
  'recipient.expired': 'expired',
  'recipient.failed': 'failed',
  'recipient.suppressed': 'suppressed',
} as const;
