import type { SpineEvent } from '../../core/index.js';

/**
 * What a webhook POST carries for one event: the event as GET /v1/events shows it, plus
 * `timestamp` (the Standard Webhooks name for when it happened). Batched endpoints get a JSON
 * array of these.
 */
export function webhookEventJson(e: SpineEvent) {
  return {
    id: e.id,
    type: e.type,
    timestamp: e.at,
    cursor: e.cursor,
    message_id: e.messageId,
    recipient_id: e.recipientId,
    seq: e.seq,
    at: e.at,
    data: e.data,
  };
}
