import { type DeliveryEvidence, type EventSubject, formatSmtpResponse, type NewEvent, newEvent, type SmtpResponse } from '../core/index.js';

/**
 * The event a settled delivery outcome appends, built to its type's contract (core/event-payloads.ts).
 * A bounce during our SMTP transaction has the same shape as one reported later by a DSN
 * (feedback-outcomes.ts): `async: false`, the MX as `remote_mta`, and the DSN fields null.
 */
export type OutcomeEventType =
  | 'recipient.delivered'
  | 'recipient.deferred'
  | 'recipient.bounced'
  | 'recipient.expired'
  | 'recipient.failed';

export interface SettledOutcome {
  email: string;
  attempt: number;
  reply?: SmtpResponse;
  nextAttemptAt?: number;
  details: DeliveryEvidence;
}

export function outcomeEvent(type: OutcomeEventType, subject: EventSubject, o: SettledOutcome): NewEvent {
  const replyFields = o.reply ? { reply: formatSmtpResponse(o.reply), code: o.reply.code, enhanced: o.reply.enhanced ?? null } : {};
  const base = { email: o.email, attempt: o.attempt, ...replyFields, ...o.details };
  switch (type) {
    case 'recipient.delivered':
      return newEvent(type, subject, base);
    case 'recipient.deferred':
      return newEvent(type, subject, { ...base, next_attempt_at: new Date(o.nextAttemptAt ?? 0).toISOString() });
    case 'recipient.failed':
      return newEvent(type, subject, base);
    case 'recipient.expired':
      // A deferral past the maximum age expires with the reply that deferred it as its reason.
      return newEvent(type, subject, {
        ...base,
        reason: o.details.reason ?? `undelivered past the maximum age${o.reply ? `; last reply: ${formatSmtpResponse(o.reply)}` : ''}`,
      });
    case 'recipient.bounced':
      return newEvent(type, subject, {
        ...o.details,
        email: o.email,
        async: false,
        attempt: o.attempt,
        reply: o.reply ? formatSmtpResponse(o.reply) : null,
        code: o.reply?.code ?? null,
        enhanced: o.reply?.enhanced ?? null,
        // Every 5xx is classified (outcome.ts); the fallbacks only keep the shape whole.
        category: o.details.category ?? 'unknown',
        hard: o.details.hard ?? false,
        rule: o.details.rule ?? null,
        ruleset_version: o.details.ruleset_version ?? '',
        remote_mta: o.details.mx ?? null,
        diagnostic: null,
        dsn_action: null,
        dsn_status: null,
        reporting_mta: null,
        vendor: null,
        feedback_id: null,
        state: 'bounced',
      });
    default: {
      const never: never = type;
      throw new Error(`not an outcome event type: ${String(never)}`);
    }
  }
}
