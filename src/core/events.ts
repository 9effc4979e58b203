/**
 * The closed union of event types on the spine. Names are `noun.verb-past`. Adding a type means
 * adding it here and documenting it in docs/events.md (a test keeps them in step).
 */
export const eventTypes = [
  'message.accepted',
  'recipient.queued',
  'recipient.suppressed',
  'recipient.deferred',
  'recipient.delivered',
  'recipient.bounced',
  'recipient.expired',
  'recipient.failed',
  // DNS posture monitor (src/posture): tenant-scoped, messageId null.
  'dns.changed',
  'dns.alert',
  'recipient.complained',
  'report.received',
  'recipient.unsubscribed',
  // Webhooks (src/events/webhooks): tenant-scoped, messageId null.
  'webhook.disabled',
] as const;
export type EventType = (typeof eventTypes)[number];

export function isEventType(s: string): s is EventType {
  return (eventTypes as readonly string[]).includes(s);
}

/** An event as readers see it. `cursor` is the global, commit-ordered position on the spine. */
export interface SpineEvent {
  id: string;
  cursor: string;
  type: EventType;
  tenantId: string;
  messageId: string | null;
  recipientId: string | null;
  /** 1, 2, 3… per message, in the order the events happened. */
  seq: number;
  at: string;
  data: Record<string, unknown>;
}

/** What a writer appends; the store assigns id, cursor, seq and time. */
export interface NewEvent {
  /** Set by writers that must name the event before it is stored (a suppression citing it); else the store assigns one. */
  id?: string;
  type: EventType;
  tenantId: string;
  messageId?: string | null;
  recipientId?: string | null;
  data: Record<string, unknown>;
}
