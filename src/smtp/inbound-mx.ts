import type { SMTPServerAddress, SMTPServerDataStream, SMTPServerSession } from 'smtp-server';
import { parseAddress } from '../core/index.js';
import type { FeedbackIngest } from '../feedback/index.js';
import { EnhancedSmtpServer } from './enhanced-server.js';
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
  /** Most recipients in one transaction (RFC 5321 §4.5.3.1.8 minimum is 100). */
  maxRecipients?: number;
  maxClients?: number;
  socketTimeoutMs?: number;
  closeTimeoutMs?: number;
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
  const fields = (s: SMTPServerSession) => ({ session: s.id, remote: s.remoteAddress, helo: s.hostNameAppearsAs, tls: !!s.secure });

  function declined(session: SMTPServerSession, stage: string, reply: SmtpReply, detail?: string): Error {
    log.warn({ ...fields(session), stage, reply: `${reply.responseCode} ${reply.message}`, detail }, 'inbound MX refused');
    return smtpError(reply);
  }

  async function onRcptTo(address: SMTPServerAddress, session: SMTPServerSession): Promise<void> {
    if (!parseAddress(address.address).ok) throw declined(session, 'RCPT', protocolReplies.badRecipientSyntax);
    if (session.envelope.rcptTo.length >= maxRecipients) throw declined(session, 'RCPT', replies.tooManyRecipients);
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

  function readBounded(stream: SMTPServerDataStream, limit: number): Promise<{ raw: Buffer; bytes: number }> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let bytes = 0;
      stream.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        if (bytes <= limit) chunks.push(chunk);
        else chunks.length = 0;
      });
      stream.once('end', () => resolve({ raw: bytes <= limit ? Buffer.concat(chunks, bytes) : Buffer.alloc(0), bytes }));
      stream.once('error', reject);
    });
  }

  async function onData(stream: SMTPServerDataStream, session: SMTPServerSession): Promise<string> {
    const { raw, bytes } = await readBounded(stream, opts.maxMessageBytes);
    if (bytes > opts.maxMessageBytes) throw declined(session, 'DATA', replies.tooLarge(opts.maxMessageBytes), `${bytes} bytes`);
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

  const server = new EnhancedSmtpServer({
    name: opts.hostname,
    banner: 'Postwarden MX',
    disableReverseLookup: true,
    secure: false,
    key: opts.tls.key,
    cert: opts.tls.cert,
    minVersion: 'TLSv1.2',
    hideSTARTTLS: false,
    // RFC 5321 §3.9 / RFC 2505: an MX takes no AUTH; the recipient check is the only gate.
    disabledCommands: ['AUTH'],
    authOptional: true,
    size: opts.maxMessageBytes,
    hideSize: false,
    hide8BITMIME: false,
    hideSMTPUTF8: false,
    hidePIPELINING: false,
    hideENHANCEDSTATUSCODES: false,
    hideDSN: true,
    hideREQUIRETLS: true,
    maxClients: opts.maxClients ?? 200,
    socketTimeout: opts.socketTimeoutMs ?? 5 * 60_000,
    closeTimeout: opts.closeTimeoutMs ?? 30_000,
    logger: false,
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
  });

  function internal(session: SMTPServerSession, stage: string, e: unknown): Error {
    const reply = replyFor(e);
    log.error({ ...fields(session), stage, err: e, reply: `${reply.responseCode} ${reply.message}` }, 'inbound MX failed');
    return smtpError(reply);
  }

  server.on('error', (err: Error) =>
    log.warn({ err: { message: err.message, code: (err as NodeJS.ErrnoException).code } }, 'inbound MX connection error'),
  );

  return {
    listen(port, host) {
      return new Promise((resolve, reject) => {
        const onError = (err: Error) => reject(err);
        server.server.once('error', onError);
        server.listen(port, host, () => {
          server.server.off('error', onError);
          const addr = server.server.address();
          const bound = typeof addr === 'object' && addr ? addr.port : port;
          log.info({ host, port: bound }, 'inbound MX listening');
          resolve({ port: bound });
        });
      });
    },
    close() {
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
