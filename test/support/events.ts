import { type EventPayload, type EventSubject, type EventType, eventDefinitions, type NewEvent, newEvent } from '../../src/core/index.js';

/**
 * An event of `type` carrying its contract's example payload (core/event-payloads.ts), for tests
 * that need well-formed events on the spine without going through accept or delivery.
 */
export function exampleEvent<T extends EventType>(
  type: T,
  subject: EventSubject,
  /** Fields to change or add (payloads allow fields they do not declare). */
  overrides: Partial<EventPayload<T>> & Record<string, unknown> = {},
): NewEvent {
  return newEvent(type, subject, { ...(eventDefinitions[type].example as EventPayload<T>), ...overrides });
}
