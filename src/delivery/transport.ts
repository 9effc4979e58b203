import type { DeliveryEvidence, SmtpResponse } from '../core/index.js';
import type { DeliveryMessage, RecipientRow } from '../store/index.js';
import type { TlsAttemptInput } from './tls-attempt.js';

/**
 * How a batch of one message's recipients leaves the node. The sandbox transport captures; the SMTP
 * transport routes to remote MX hosts. Transports report outcomes as values and never throw for a
 * remote's answer: a throw means a local fault, and the deliverer defers the recipients.
 */
export type OutcomeKind = 'delivered' | 'deferred' | 'bounced' | 'failed';

export interface DeliveryOutcome {
  recipientId: string;
  kind: OutcomeKind;
  reply?: SmtpResponse;
  /** Evidence kept on the event: MX, IP, TLS, durations, classifier result… */
  details: DeliveryEvidence;
  /** Sandbox: what was captured instead of sent. */
  captured?: { envelopeFrom: string };
  /** Deferred: when to try again, when the transport knows better than the backoff schedule. */
  retryAt?: number;
  /**
   * False when nothing was attempted on the wire (the destination's breaker is open or its rate is
   * spent): the deferral does not spend one of the recipient's attempts.
   */
  attempted?: boolean;
  /** Destination site (MX host set), for metrics. */
  site?: string;
  /** TLS evidence rows of this attempt (one per session tried), stored with the outcome. */
  tlsAttempts?: TlsAttemptInput[];
}

export interface DeliveryJob {
  message: DeliveryMessage;
  body: Buffer;
  recipients: RecipientRow[];
}

export interface Transport {
  deliver(job: DeliveryJob): Promise<DeliveryOutcome[]>;
  close?(): Promise<void>;
}

/** Captures instead of sending: the full pipeline, no network. */
export const sandboxTransport: Transport = {
  async deliver(job) {
    return job.recipients.map((r) => ({
      recipientId: r.id,
      kind: 'delivered' as const,
      reply: { code: 250, enhanced: '2.0.0', text: 'captured by sandbox' },
      details: { sandbox: true },
      captured: { envelopeFrom: job.message.from },
    }));
  },
};
