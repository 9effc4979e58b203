import type { SMTPServerAddress, SMTPServerDataStream, SMTPServerSession } from 'smtp-server';
import { type BudgetHold, type ByteBudget, createByteBudget, isPostwardenError, parseAddress } from '../core/index.js';
import type { FeedbackIngest } from '../feedback/index.js';
import { createSmtpListener, defaultListenerLimits, type ListenerLimits } from './listener.js';
import { budgetExhausted, checkHeaderLines, readMessage } from './raw-input.js';
import { protocolReplies, replyFor, type SmtpReply, smtpError } from './replies.js';

/**
 * The inbound MX (RFC 5321 §4.5.1 receiver): where bounces, complaints and DMARC/TLS-RPT reports
 * come back. It is not a mail store and never a relay: every recipient is decided at RCPT by the
 * feedback service (feedback/mailboxes.ts), so mail for anything else is refused before DATA.
 *
 *   connect → EHLO (STARTTLS offered, no AUTH) → MAIL (any sender, including the null reverse-path
 *   `<>` every DSN uses, RFC 5321 §4.5.5; SIZE checked, RFC 1870) → RCPT (VERP MAC verified, report
 *   mailbox, postmaster) → DATA (bounded read) → ingest → 250.
 *
 * Replies stay bland on the wire and the detail goes to the log: a forged or malformed VERP address
 * is `550 5.1.1` like any unknown mailbox, so a prober learns nothing about the MAC; a foreign
 * domain is `550 5.7.1 Relay access denied`. The 250 after DATA follows the commit of the document,
 * so a sender that saw it may forget the message. An ingestion failure is `451 4.3.0` and the sender
 * retries.
 */
export interface InboundMxLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface InboundMxOptions {
  feedback: Pick<FeedbackIngest, 'ingest' | 'decideMailbox'>;
  hostname: string;
  tls: { key: string; cert: string };
  /** Largest message accepted (SIZE in EHLO; 552 5.3.4 past it). */
  maxMessageBytes: number;
  /**
   * Most RCPT commands in one transaction, accepted or refused (RFC 5321 §4.5.3.1.8 asks a server
   * to take at least 100); past it each RCPT gets 452 4.5.3. Default 100.
   */
  maxRecipients?: number;
  /** Connection limits and timeouts (listener.ts); defaults: 200 clients, 20 per address. */
  listener?: Partial<ListenerLimits>;
  /** The node's budget of message bytes in flight, shared with the API and submission. */
  budget?: ByteBudget;
  log: InboundMxLog;
}

export interface InboundMx {
  listen(port: number, host: string): Promise<{ port: number }>;
  close(): Promise<void>;
}

const replies = {
  unknownMailbox: { responseCode: 550, message: '5.1.1 Mailbox unavailable' },
  relayDenied: { responseCode: 550, message: '5.7.1 Relay access denied' },
  tooManyRecipients: { responseCode: 452, message: '4.5.3 Too many recipients' },
  tooLarge: (limit: number) => ({ responseCode: 552, message: `5.3.4 Message too large: the limit is ${limit} bytes` }),
  received: (id: string) => ({ responseCode: 250, message: `2.0.0 Ok: received as ${id}` }),
} as const;

export function createInboundMx(opts: InboundMxOptions): InboundMx {
  const { feedback, log } = opts;
  const maxRecipients = opts.maxRecipients ?? 100;
  const budget = opts.budget ?? createByteBudget(0);
  /**
   * RCPT commands per transaction, refused ones included: counting only accepted recipients would let
   * a client probe mailboxes (or VERP MACs) without end in one transaction. Keyed by the envelope,
   * which smtp-server replaces at MAIL and RSET.
   */
  const rcptAttempts = new WeakMap<object, number>();
  const fields = (s: SMTPServerSession) => ({ session: s.id, remote: s.remoteAddress, helo: s.hostNameAppearsAs, tls: !!s.secure });

  function declined(session: SMTPServerSession, stage: string, reply: SmtpReply, detail?: string): Error {
    log.warn({ ...fields(session), stage, reply: `${reply.responseCode} ${reply.message}`, detail }, 'inbound MX refused');
    return smtpError(reply);
  }

  async function onRcptTo(address: SMTPServerAddress, session: SMTPServerSession): Promise<void> {
    if (!parseAddress(address.address).ok) throw declined(session, 'RCPT', protocolReplies.badRecipientSyntax);
    const attempts = (rcptAttempts.get(session.envelope) ?? 0) + 1;
    rcptAttempts.set(session.envelope, attempts);
    if (attempts > maxRecipients) throw declined(session, 'RCPT', replies.tooManyRecipients, `${attempts} RCPT commands`);
    const d = await feedback.decideMailbox(address.address);
    if (!d.accept) {
      throw declined(
        session,
        'RCPT',
        d.reason === 'relay' ? replies.relayDenied : replies.unknownMailbox,
        `${address.address}: ${d.detail}`,
      );
    }
  }

  async function onData(stream: SMTPServerDataStream, session: SMTPServerSession): Promise<string> {
    const hold = budget.hold();
    try {
      return await ingest(stream, session, hold);
    } finally {
      hold.release();
    }
  }

  async function ingest(stream: SMTPServerDataStream, session: SMTPServerSession, hold: BudgetHold): Promise<string> {
    const { raw, bytes, overBudget } = await readMessage(stream, opts.maxMessageBytes, hold);
    if (bytes > opts.maxMessageBytes) throw declined(session, 'DATA', replies.tooLarge(opts.maxMessageBytes), `${bytes} bytes`);
    if (overBudget) throw declined(session, 'DATA', replyFor(budgetExhausted(budget.limit)), `${bytes} bytes`);
    try {
      checkHeaderLines(raw);
    } catch (e) {
      if (isPostwardenError(e)) throw declined(session, 'DATA', replyFor(e), e.message);
      throw e;
    }
    const rcpts = session.envelope.rcptTo.map((r) => r.address);
    const mailFrom = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
    const r = await feedback.ingest({ raw, rcpts, source: 'smtp' });
    log.info(
      {
        ...fields(session),
        feedback: r.id,
        kind: r.kind,
        tenant: r.tenantId,
        message: r.messageId,
        events: r.events.length,
        suppressed: r.suppressed.length,
        mailFrom,
        bytes,
      },
      'feedback received',
    );
    return replies.received(r.id).message;
  }

  const listener = createSmtpListener({
    label: 'inbound MX',
    hostname: opts.hostname,
    banner: 'Postwarden MX',
    tls: opts.tls,
    size: opts.maxMessageBytes,
    limits: { maxClients: 200, maxClientsPerIp: 20, ...defaultListenerLimits, ...opts.listener },
    log,
    options: {
      // RFC 5321 §3.9 / RFC 2505: an MX takes no AUTH; the recipient check is the only gate.
      disabledCommands: ['AUTH'],
      authOptional: true,
      onRcptTo(address, session, callback) {
        onRcptTo(address, session).then(
          () => callback(),
          (e: unknown) => callback(e instanceof Error && 'responseCode' in e ? e : internal(session, 'RCPT', e)),
        );
      },
      onData(stream, session, callback) {
        onData(stream, session).then(
          (reply) => callback(null, reply),
          (e: unknown) => {
            if (stream.readable) stream.resume();
            callback(e instanceof Error && 'responseCode' in e ? e : internal(session, 'DATA', e));
          },
        );
      },
    },
  });

  function internal(session: SMTPServerSession, stage: string, e: unknown): Error {
    const reply = replyFor(e);
    log.error({ ...fields(session), stage, err: e, reply: `${reply.responseCode} ${reply.message}` }, 'inbound MX failed');
    return smtpError(reply);
  }

  return { listen: listener.listen, close: listener.close };
}
