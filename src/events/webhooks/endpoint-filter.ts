import type { SpineEvent } from '../../core/index.js';
import type { WebhookEndpointRow } from '../../store/index.js';

/**
 * Whether an endpoint wants an event: its type among `events` (none: all types), the message's stream
 * among `streams`, the sender's domain (or, for events about a domain, that domain) among `domains`.
 * An event without a stream or domain does not pass a filter on it.
 */
export interface MessageFacts {
  stream: string;
  from: string;
}

export function needsMessageFacts(e: WebhookEndpointRow): boolean {
  return !!(e.streams?.length || e.domains?.length);
}

export function endpointWants(endpoint: WebhookEndpointRow, event: SpineEvent, facts: MessageFacts | undefined): boolean {
  if (endpoint.eventTypes?.length && !endpoint.eventTypes.includes(event.type)) return false;
  if (endpoint.streams?.length && !(facts && endpoint.streams.includes(facts.stream))) return false;
  if (endpoint.domains?.length) {
    const domain = facts ? facts.from.slice(facts.from.lastIndexOf('@') + 1).toLowerCase() : domainOf(event);
    if (!domain || !endpoint.domains.includes(domain)) return false;
  }
  return true;
}

function domainOf(e: SpineEvent): string | undefined {
  const d = e.data.domain;
  return typeof d === 'string' ? d.toLowerCase() : undefined;
}
