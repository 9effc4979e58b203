import { assertNever } from './result.js';

/**
 * The recipient state machine. A recipient row changes state only inside a transaction that also
 * appends the matching event (Postfix-style: every transition is durable and logged).
 *
 *   queued ──claim──► in_flight ──250──► delivered
 *     ▲                  │ ├──5xx──► bounced
 *     │                  │ ├──4xx / network──► deferred ──due──► in_flight …
 *     └──lease expired / │ └──local policy──► failed
 *        shutdown return─┘          deferred ──past max age──► expired
 *   (at accept) suppressed
 */
export const recipientStates = ['queued', 'in_flight', 'deferred', 'delivered', 'bounced', 'expired', 'suppressed', 'failed'] as const;
export type RecipientState = (typeof recipientStates)[number];

export function isTerminal(s: RecipientState): boolean {
  switch (s) {
    case 'queued':
    case 'in_flight':
    case 'deferred':
      return false;
    case 'delivered':
    case 'bounced':
    case 'expired':
    case 'suppressed':
    case 'failed':
      return true;
    default:
      return assertNever(s, 'recipient state');
  }
}

const allowed: Record<RecipientState, readonly RecipientState[]> = {
  queued: ['in_flight', 'expired', 'failed'],
  in_flight: ['delivered', 'bounced', 'deferred', 'failed', 'expired', 'queued'],
  deferred: ['in_flight', 'expired', 'failed'],
  delivered: [],
  bounced: [],
  expired: [],
  suppressed: [],
  failed: [],
};

export function canTransition(from: RecipientState, to: RecipientState): boolean {
  return allowed[from].includes(to);
}

/** A message's state is derived from its recipients, never stored twice. */
export type MessageState = 'queued' | 'in_progress' | 'completed';

export function messageState(recipients: readonly RecipientState[]): MessageState {
  if (recipients.every(isTerminal)) return 'completed';
  if (recipients.every((s) => s === 'queued')) return 'queued';
  return 'in_progress';
}

export const streams = ['transactional', 'marketing', 'cold'] as const;
export type Stream = (typeof streams)[number];
