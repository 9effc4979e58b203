import type {
  SMTPServerAddress,
  SMTPServerAuthentication,
  SMTPServerAuthenticationResponse,
  SMTPServerDataStream,
  SMTPServerSession,
} from 'smtp-server';
import type { Accept } from '../accept/index.js';
import {
  type ByteBudget,
  createByteBudget,
  isPostwardenError,
  type Mailbox,
  PostwardenError,
  parseAddress,
  peerAddress,
} from '../core/index.js';
import type { Principal, Tenants } from '../tenants/index.js';
import { createSmtpListener, defaultListenerLimits, type ListenerLimits } from './listener.js';
import { budgetExhausted, checkHeaderLines, readMessage } from './raw-input.js';
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
  accept: Pick<Accept, 'acceptSubmitted' | 'checkSize' | 'maxMessageBytes' | 'checkBackpressure' | 'checkResidency'>;
  tenants: Pick<Tenants, 'authenticate'>;
  /** Announced in the greeting and EHLO. */
  hostname: string;
  /** PEM key and certificate chain for STARTTLS. */
  tls: { key: string; cert: string };
  /** The node defaults: SIZE declared in EHLO, and most recipients one message may have. */
  limits: { maxMessageBytes: number; maxRecipients: number };
  /** Connection limits and timeouts (listener.ts); defaults: 1000 clients, 100 per address. */
  listener?: Partial<ListenerLimits>;
  /** Failed AUTH attempts in one session before it is closed with 421 4.7.0. Default 3. */
  maxAuthFailures?: number;
  /** The node's budget of message bytes in flight, shared with the API and the MX. */
  budget?: ByteBudget;
  /**
   * Told of each AUTH with an unknown or revoked key, with the client's address (the compliance
   * anomaly detector counts them in memory; platform.ts wires it). Must not throw or block.
   */
  onAuthFailure?: (f: { address: string }) => void;
  /**
   * Told of each MAIL FROM refused for data residency, before the 550 goes out (platform.ts records
   * it in the audit log, throttled per tenant).
   */
  onResidencyRefused?: (f: { tenantId: string; keyId: string; address: string; tenantRegion: string }) => Promise<void>;
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
  const budget = opts.budget ?? createByteBudget(0);
  const maxAuthFailures = opts.maxAuthFailures ?? 3;
  /** Failed AUTH attempts per session id; the entry goes when the session closes. */
  const authFailures = new Map<string, number>();

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
    const found = await tenants.authenticate(auth.password ?? '');
    if (!found) {
      opts.onAuthFailure?.({ address: peerAddress(session.remoteAddress) });
      throw new PostwardenError('UNAUTHENTICATED', `AUTH ${auth.method} with an unknown or revoked key`, { username: auth.username });
    }
    // The session's address goes with the principal onto what it sends (`client_ip`).
    const principal: Principal = { ...found, clientIp: peerAddress(session.remoteAddress) };
    if (!principal.permissions.has('messages:send')) {
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

  /**
   * smtp-server never counts failed AUTH commands, so a client could try keys forever on one
   * connection. After `maxAuthFailures` the reply is 421 4.7.0 instead of 535, and 421 closes
   * (RFC 5321 §3.8: the server may close after a 421). A new connection costs the guesser a TCP and
   * TLS handshake, and the per-address connection limit bounds how many run at once. Across
   * connections, each unknown key is told to `onAuthFailure` (onAuth), where a burst from one
   * address raises the compliance alert auth-failure-burst.
   */
  function authFailed(session: SMTPServerSession, e: unknown): Error {
    const err = refuse(session, 'AUTH', e);
    if (!isPostwardenError(e) || e.code !== 'UNAUTHENTICATED') return err;
    const failures = (authFailures.get(session.id) ?? 0) + 1;
    authFailures.set(session.id, failures);
    if (maxAuthFailures <= 0 || failures < maxAuthFailures) return err;
    log.warn({ ...sessionFields(session), failures }, 'submission closed: too many failed AUTH attempts');
    return smtpError({ responseCode: 421, message: '4.7.0 Too many failed authentication attempts, closing connection' });
  }

  /** Resolves with a refusal for protocol problems; throws the service's errors. */
  async function onMailFrom(address: SMTPServerAddress, session: SMTPServerSession): Promise<SmtpReply | undefined> {
    const p = principalOf(session);
    if (address.address !== '' && !parseAddress(address.address).ok) return protocolReplies.badSenderSyntax;
    // Residency: a tenant pinned to another region is refused before it uploads any content (550 5.7.1).
    try {
      accept.checkResidency(p);
    } catch (e) {
      if (isPostwardenError(e) && e.code === 'RESIDENCY_MISMATCH' && opts.onResidencyRefused) {
        await opts.onResidencyRefused({
          tenantId: p.tenant.id,
          keyId: p.keyId,
          address: peerAddress(session.remoteAddress),
          tenantRegion: p.tenant.dataRegion ?? '',
        });
      }
      throw e;
    }
    // RFC 1870 §6.1: a declared size over the limit is refused at MAIL with 552, before any data.
    const declared = address.args ? address.args.SIZE : undefined;
    if (declared !== undefined) accept.checkSize(p, Number(declared));
    // Refuse before the upload when the node is already reading as many bytes as it may hold.
    if (!budget.fits(declared === undefined ? 1 : Number(declared))) throw budgetExhausted(budget.limit);
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

  async function onData(stream: SMTPServerDataStream, session: SMTPServerSession): Promise<string> {
    const p = principalOf(session);
    const hold = budget.hold();
    try {
      const { raw, bytes, overBudget } = await readMessage(stream, accept.maxMessageBytes(p), hold);
      accept.checkSize(p, bytes);
      if (overBudget) throw budgetExhausted(budget.limit);
      checkHeaderLines(raw);
      return await acceptData(p, session, raw, bytes);
    } finally {
      hold.release();
    }
  }

  async function acceptData(p: Principal, session: SMTPServerSession, raw: Buffer, bytes: number): Promise<string> {
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

  const listener = createSmtpListener({
    label: 'submission',
    hostname: opts.hostname,
    banner: 'Postwarden submission',
    tls: opts.tls,
    size: limits.maxMessageBytes,
    limits: { maxClients: 1000, maxClientsPerIp: 100, ...defaultListenerLimits, ...opts.listener },
    log,
    options: {
      authMethods: ['PLAIN', 'LOGIN'],
      authOptional: false,
      allowInsecureAuth: false,
      authRequiredMessage: replyFor(new PostwardenError('AUTH_REQUIRED', 'MAIL before AUTH')).message,
      disabledCommands: [],
      onClose(session) {
        authFailures.delete(session.id);
      },
      onAuth(auth, session, callback) {
        onAuth(auth, session).then(
          (res) => callback(null, res),
          (e: unknown) => callback(authFailed(session, e)),
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
    },
  });

  return { listen: listener.listen, close: listener.close };
}
