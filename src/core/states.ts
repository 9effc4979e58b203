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
 *   queued / deferred ──POST /v1/messages/{id}/cancel──► cancelled (never while in_flight: an attempt
 *   may be on the wire, and its outcome must be recorded, not lost or sent twice)
 */
export const recipientStates = [
  'queued',
  'in_flight',
  'deferred',
  'delivered',
  'bounced',
  'expired',
  'suppressed',
  'failed',
  'cancelled',
] as const;
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
    case 'cancelled':
      return true;
    default:
      return assertNever(s, 'recipient state');
  }
}

const allowed: Record<RecipientState, readonly RecipientState[]> = {
  queued: ['in_flight', 'expired', 'failed', 'cancelled'],
  in_flight: ['delivered', 'bounced', 'deferred', 'failed', 'expired', 'queued'],
  deferred: ['in_flight', 'expired', 'failed', 'cancelled'],
  delivered: [],
  bounced: [],
  expired: [],
  suppressed: [],
  failed: [],
  cancelled: [],
};

/** The states a cancel may end: the recipient waits in the queue and no worker holds it. */
export const cancellableStates = ['queued', 'deferred'] as const satisfies readonly RecipientState[];

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
