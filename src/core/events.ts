import { type EventPayload, type EventType, eventDefinitions } from './event-payloads.js';

export type { EventPayload, EventType } from './event-payloads.js';

/**
 * The closed union of event types on the spine, in the order of the contract table
 * (event-payloads.ts). Names are `noun.verb-past`. Adding a type means adding its entry there.
 */
export const eventTypes = Object.keys(eventDefinitions) as EventType[];

export function isEventType(s: string): s is EventType {
  return Object.hasOwn(eventDefinitions, s);
}

/** How a recipient was named: To, Cc, Bcc, or only in the SMTP envelope. */
export type RecipientKind = EventPayload<'recipient.queued'>['kind'];

/**
 * Evidence a delivery attempt carries on its recipient event: the transaction (site, MX, IP, TLS,
 * timings, DKIM) and, for a failure, the classifier's verdict.
 */
export type DeliveryEvidence = Omit<
  EventPayload<'recipient.deferred'>,
  'email' | 'attempt' | 'reply' | 'code' | 'enhanced' | 'next_attempt_at'
> & {
  /** Why a recipient expired or failed locally. */
  reason?: string;
  last_reply?: object;
};

/** The schema version of the payloads written today for this type (stored on each event). */
export function eventSchemaVersion(type: EventType): number {
  return eventDefinitions[type].version;
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
  /** The version of the type's payload this event was written with. */
  schemaVersion: number;
  data: Record<string, unknown>;
}

/** What an event is about; the store assigns cursor, seq, time and (unless given) the id. */
export interface EventSubject {
  /** Set by writers that must name the event before it is stored (a suppression citing it); else the store assigns one. */
  id?: string;
  tenantId: string;
  messageId?: string | null;
  recipientId?: string | null;
}

/** What a writer appends: for each type, its one payload shape (typed by the contract table). */
export type NewEvent = { [T in EventType]: EventSubject & { type: T; data: EventPayload<T> } }[EventType];

/** The one builder writers use: the payload is checked against the type's contract at compile time. */
export function newEvent<T extends EventType>(type: T, subject: EventSubject, data: EventPayload<T>): NewEvent {
  return { ...subject, type, data } as NewEvent;
}
