import type { SpineEvent } from '../../core/index.js';
import type { MessageRow, RecipientRow } from '../../store/index.js';

/** The wire shapes of stored rows: snake_case, ISO times, nothing internal (leases stay private). */
export const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function messageJson(m: MessageRow) {
  return {
    id: m.id,
    from: m.from,
    subject: m.subject,
    stream: m.stream,
    size: m.size,
    message_id_header: m.messageIdHeader,
    tags: m.tags,
    metadata: m.metadata,
    source: m.source,
    sandbox: m.sandbox,
    created_at: iso(m.createdAt),
    identity: m.identity ?? null,
  };
}

export function recipientJson(r: RecipientRow) {
  return {
    id: r.id,
    email: r.address,
    kind: r.kind,
    state: r.state,
    attempts: r.attempts,
    next_attempt_at: r.state === 'deferred' || r.state === 'queued' ? iso(r.nextAttemptAt) : null,
    last_reply: r.lastReply,
    updated_at: iso(r.updatedAt),
  };
}

export function eventJson(e: SpineEvent) {
  return {
    id: e.id,
    cursor: e.cursor,
    type: e.type,
    message_id: e.messageId,
    recipient_id: e.recipientId,
    seq: e.seq,
    schema_version: e.schemaVersion,
    at: e.at,
    data: e.data,
  };
}
