import type {
  SMTPServerAddress,
  SMTPServerAuthentication,
  SMTPServerAuthenticationResponse,
  SMTPServerDataStream,
  SMTPServerSession,
} from 'smtp-server';
import type { Accept } from '../accept/index.js';
import { isPostwardenError, type Mailbox, PostwardenError, parseAddress } from '../core/index.js';
import { hasScope, type Principal, type Tenants } from '../tenants/index.js';
import { EnhancedSmtpServer } from './enhanced-server.js';
import { protocolReplies, queuedReply, replyFor, type SmtpReply, smtpError } from './replies.js';

/**
 * SMTP submission (RFC 6409), the second front door: the same accept service as `POST /v1/messages`,
 * reached with an API key over AUTH PLAIN or LOGIN (RFC 4954) after STARTTLS (RFC 3207).
 *
 * Design. smtp-server speaks the protocol; this file decides. The session goes:
 * connect → EHLO → STARTTLS → EHLO → AUTH (API key as password) → MAIL (SIZE checked against the
 * tenant's limit, queue pressure checked) → RCPT (syntax, recipient count) → DATA (bounded read,
 * then `acceptSubmitted`). The 250 to DATA is sent only once accept has resolved, which is after the
 * commit holding the message: a client that saw 250 may forget the message.
 *
 * Replies. Every reply after EHLO carries an RFC 3463 enhanced code and ENHANCEDSTATUSCODES is
 * advertised (RFC 2034 §3). smtp-server adds its own codes to the replies it makes itself, but it
 * would prefix one to ours too, so each connection's `send` is wrapped: a text that already opens
 * with a code (every reply from replies.ts does) goes out as is. The wrapper also swaps a few of
 * smtp-server's own replies for ours (`builtinOverride`), notably its non-standard 538 for RFC 4954
 * §6's `538 5.7.11 Encryption required for requested authentication mechanism`. smtp-server refuses
 * AUTH before the SASL exchange starts, so a LOGIN client is stopped before it sends its password.
 *
 * SIZE. EHLO must be answered before we know the tenant, so it declares the node default (RFC 1870
 * §4 fixed maximum) and smtp-server refuses larger SIZE= values outright; a tenant's own, smaller
 * limit is checked at MAIL (SIZE=) and again while DATA streams in. A tenant limit above the node
 * default is therefore capped at the node default on this door.
 *
 * The envelope sender is parsed but carries no authority: the platform writes its own return path
 * (bounces must come back to us to be classified), and the sending identity is checked on the From
 * header, as the API checks `from`. So the null reverse-path `<>` is accepted too (RFC 5321 §4.5.5:
 * auto-responders and notification senders use it, RFC 3834 §3.3).
 */
export interface SubmissionLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface SubmissionOptions {
  accept: Pick<Accept, 'acceptSubmitted' | 'checkSize' | 'maxMessageBytes' | 'checkBackpressure'>;
  tenants: Pick<Tenants, 'authenticate'>;
  /** Announced in the greeting and EHLO. */
  hostname: string;
  /** PEM key and certificate chain for STARTTLS. */
  tls: { key: string; cert: string };
  /** The node defaults: SIZE declared in EHLO, and most recipients one message may have. */
  limits: { maxMessageBytes: number; maxRecipients: number };
  /** Concurrent connections; more are answered 421 and closed. Default 1000. */
  maxClients?: number;
  /** Idle time before a connection is dropped (RFC 5321 §4.5.3.2 suggests minutes). Default 5 min. */
  socketTimeoutMs?: number;
  /** How long close() lets open sessions finish before cutting them. Default 30 s. */
  closeTimeoutMs?: number;
  log: SubmissionLog;
}

export interface SubmissionServer {
  listen(port: number, host: string): Promise<{ port: number }>;
  close(): Promise<void>;
}

function principalOf(session: SMTPServerSession): Principal {
  const user: unknown = session.user;
  if (!user) throw new PostwardenError('AUTH_REQUIRED', 'no AUTH in this session');
  return user as Principal;
}

function sessionFields(session: SMTPServerSession) {
  const user: unknown = session.user;
  const p = user ? (user as Principal) : undefined;
  return { session: session.id, remote: session.remoteAddress, tenant: p?.tenant.id, key: p?.keyId };
}

export function createSubmissionServer(opts: SubmissionOptions): SubmissionServer {
  const { accept, tenants, log, limits } = opts;

  /** Logs a refusal with its detail and turns it into the error smtp-server replies with. */
  function refuse(session: SMTPServerSession, stage: string, e: unknown): Error {
    const reply: SmtpReply = replyFor(e);
    const fields = { ...sessionFields(session), stage, reply: `${reply.responseCode} ${reply.message}` };
    if (isPostwardenError(e)) log.warn({ ...fields, code: e.code, detail: e.message, details: e.details }, 'submission refused');
    else log.error({ ...fields, err: e }, 'submission failed');
    return smtpError(reply);
  }

  /** A protocol refusal (bad syntax): no error object behind it, just the reply. */
  function declined(session: SMTPServerSession, stage: string, reply: SmtpReply): Error {
    log.warn({ ...sessionFields(session), stage, reply: `${reply.responseCode} ${reply.message}` }, 'submission refused');
    return smtpError(reply);
  }

  async function onAuth(auth: SMTPServerAuthentication, session: SMTPServerSession): Promise<SMTPServerAuthenticationResponse> {
    // The password is the API key secret; the username is free (clients insist on one), so people
    // may put the key id or their name there. Nothing about the secret is logged.
    const principal = await tenants.authenticate(auth.password ?? '');
    if (!principal) {
      throw new PostwardenError('UNAUTHENTICATED', `AUTH ${auth.method} with an unknown or revoked key`, { username: auth.username });
    }
    if (!hasScope(principal.scopes, 'send')) {
      // 535 5.7.8 rather than FORBIDDEN's 550: RFC 4954 §6 lists 535 as the AUTH refusal, and a key
      // that may not send is, for this door, a credential that does not work.
      throw new PostwardenError('UNAUTHENTICATED', `key ${principal.keyId} lacks the send scope`, { keyId: principal.keyId });
    }
    log.info(
      { ...sessionFields(session), tenant: principal.tenant.id, key: principal.keyId, method: auth.method },
      'submission authenticated',
    );
    return { user: principal };
  }

  /** Resolves with a refusal for protocol problems; throws the service's errors. */
  async function onMailFrom(address: SMTPServerAddress, session: SMTPServerSession): Promise<SmtpReply | undefined> {
    const p = principalOf(session);
    if (address.address !== '' && !parseAddress(address.address).ok) return protocolReplies.badSenderSyntax;
    // RFC 1870 §6.1: a declared size over the limit is refused at MAIL with 552, before any data.
    const declared = address.args ? address.args.SIZE : undefined;
    if (declared !== undefined) accept.checkSize(p, Number(declared));
    // Shed load at the start of a transaction, before the client uploads anything (421 closes).
    await accept.checkBackpressure();
    return undefined;
  }

  async function onRcptTo(address: SMTPServerAddress, session: SMTPServerSession): Promise<SmtpReply | undefined> {
    principalOf(session);
    if (!parseAddress(address.address).ok) return protocolReplies.badRecipientSyntax;
    const rcpts = session.envelope.rcptTo;
    const repeat = rcpts.some((r) => r.address.toLowerCase() === address.address.toLowerCase());
    // RFC 5321 §4.5.3.1.10: refuse the extra recipient with 452 and the client sends the rest in
    // another transaction; the ones already accepted stay.
    if (!repeat && rcpts.length >= limits.maxRecipients) {
      throw new PostwardenError('TOO_MANY_RECIPIENTS', `more than ${limits.maxRecipients} recipients`, { limit: limits.maxRecipients });
    }
    return undefined;
  }

  /**
   * Reads the message up to the tenant's limit. Past it the bytes are drained, not kept, so a huge
   * message costs no memory; the client still has to finish sending before it can hear the 552.
   */
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
    const p = principalOf(session);
    const { raw, bytes } = await readBounded(stream, accept.maxMessageBytes(p));
    accept.checkSize(p, bytes);
    const rcpts: Mailbox[] = [];
    for (const r of session.envelope.rcptTo) {
      const parsed = parseAddress(r.address);
      if (parsed.ok) rcpts.push(parsed.mailbox); // each was checked at RCPT; this only recovers the type
    }
    const accepted = await accept.acceptSubmitted(p, rcpts, raw);
    log.info(
      { ...sessionFields(session), message: accepted.id, bytes, recipients: accepted.recipients.length, sandbox: accepted.sandbox },
      'submission accepted',
    );
    return queuedReply(accepted.id).message;
  }

  const server = new EnhancedSmtpServer({
    name: opts.hostname,
    banner: 'Postwarden submission',
    // The client's PTR name is used for nothing here; skipping it saves a DNS query per connection.
    disableReverseLookup: true,
    secure: false,
    key: opts.tls.key,
    cert: opts.tls.cert,
    minVersion: 'TLSv1.2',
    hideSTARTTLS: false,
    authMethods: ['PLAIN', 'LOGIN'],
    authOptional: false,
    allowInsecureAuth: false,
    authRequiredMessage: replyFor(new PostwardenError('AUTH_REQUIRED', 'MAIL before AUTH')).message,
    size: limits.maxMessageBytes,
    hideSize: false,
    hide8BITMIME: false,
    hideSMTPUTF8: false,
    hidePIPELINING: false,
    hideENHANCEDSTATUSCODES: false,
    // We do not generate DSNs for clients (the events spine tells the story), so NOTIFY/RET would be
    // promises we do not keep; REQUIRETLS (RFC 8689) is not enforced downstream yet.
    hideDSN: true,
    hideREQUIRETLS: true,
    disabledCommands: [],
    maxClients: opts.maxClients ?? 1000,
    socketTimeout: opts.socketTimeoutMs ?? 5 * 60_000,
    closeTimeout: opts.closeTimeoutMs ?? 30_000,
    logger: false,
    onAuth(auth, session, callback) {
      onAuth(auth, session).then(
        (res) => callback(null, res),
        (e: unknown) => callback(refuse(session, 'AUTH', e)),
      );
    },
    onMailFrom(address, session, callback) {
      onMailFrom(address, session).then(
        (refusal) => callback(refusal && declined(session, 'MAIL', refusal)),
        (e: unknown) => callback(refuse(session, 'MAIL', e)),
      );
    },
    onRcptTo(address, session, callback) {
      onRcptTo(address, session).then(
        (refusal) => callback(refusal && declined(session, 'RCPT', refusal)),
        (e: unknown) => callback(refuse(session, 'RCPT', e)),
      );
    },
    onData(stream, session, callback) {
      onData(stream, session).then(
        (reply) => callback(null, reply),
        (e: unknown) => {
          if (stream.readable) stream.resume(); // smtp-server answers only once the stream has ended
          callback(refuse(session, 'DATA', e));
        },
      );
    },
  });

  // Without a listener an 'error' event (a reset socket, a failed handshake) would end the process.
  server.on('error', (err: Error) =>
    log.warn({ err: { message: err.message, code: (err as NodeJS.ErrnoException).code } }, 'submission connection error'),
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
          log.info({ host, port: bound }, 'submission listening');
          resolve({ port: bound });
        });
      });
    },
    close() {
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
