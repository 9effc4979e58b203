/**
 * One outbound SMTP connection to one MX address, on nodemailer's SMTPConnection.
 *
 * Design. Opening and sending return values, never exceptions: a refused connection, a 421
 * greeting or a TLS policy failure is `{ ok: false, stage, reply?, error, evidence }`, and a
 * transaction ends with one reply per recipient. A recipient counts as delivered only when a 2xx
 * answered the end of DATA; a connection lost before that gives the recipients without a final
 * answer a synthetic `451 4.4.2` (RFC 3463 "bad connection") so they are retried (RFC 5321 §6.1:
 * a message is the client's until the server took responsibility for it). A recipient whose RCPT
 * was refused keeps that reply: it is a final answer whatever happens next.
 *
 * We open the TCP connection ourselves (so a connect failure is told apart from a silent greeting,
 * and the source address is bound) and hand the socket to SMTPConnection, which then speaks the
 * protocol: greeting, EHLO, STARTTLS, PIPELINING (RFC 2920), SIZE (RFC 1870), 8BITMIME (RFC 6152),
 * SMTPUTF8 (RFC 6531). The TLS handshake never rejects a certificate by itself
 * (`rejectUnauthorized: false`): the session judges what it got between the post-TLS EHLO and
 * MAIL FROM (`judgeTls`), so every mode records the same evidence and the policy alone decides.
 *
 * What each recipient's reply is (`session-replies.ts`) is kept apart from the connection's life.
 */
import net from 'node:net';
import { Readable } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import type { SmtpResponse } from '../core/index.js';
import type { ObservedTls } from '../transport-policy/index.js';
import {
  type ClientError,
  connectionLost,
  ehloExtensions,
  envelopeState,
  errorText,
  everyone,
  fromError,
  fromInfo,
  localRefusal,
  type OutgoingMessage,
  replyOf,
  type SendResult,
  synthetic,
  type Transaction,
} from './session-replies.js';
import { describeTls, judgeTls, type SessionTlsEvidence, type SessionTlsOptions } from './tls-evidence.js';

export type { OutgoingMessage, SendResult, SendStage } from './session-replies.js';

export interface SessionTimeouts {
  connectMs: number;
  greetingMs: number;
  /** Each reply to EHLO, STARTTLS, MAIL, RCPT, DATA, RSET, QUIT. */
  commandMs: number;
  /** Inactivity while the body is written. */
  dataBlockMs: number;
  /** Waiting for the reply to the final dot. */
  dataMs: number;
}

/**
 * RFC 5321 §4.5.3.2 client timeouts. DATA initiation (2 minutes in §4.5.3.2.4) shares `commandMs`:
 * with PIPELINING the DATA command leaves with MAIL and RCPT (RFC 2920 §3.1), so its reply cannot
 * be timed on its own.
 */
export const SMTP_TIMEOUTS: Readonly<SessionTimeouts> = {
  connectMs: 30_000, // not in RFC 5321; Postfix's smtp_connect_timeout
  greetingMs: 5 * 60_000, // §4.5.3.2.1 initial 220 message
  commandMs: 5 * 60_000, // §4.5.3.2.2 MAIL, §4.5.3.2.3 RCPT
  dataBlockMs: 3 * 60_000, // §4.5.3.2.5 data block
  dataMs: 10 * 60_000, // §4.5.3.2.6 DATA termination
};

/** Longest a polite QUIT may take before the socket is simply closed. */
const QUIT_MAX_MS = 10_000;

export interface SessionLog {
  debug(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface SessionOptions {
  /** The MX host name: evidence, and the TLS reference identity through `tls.servername`. */
  host: string;
  /** The IP address to connect to. */
  address: string;
  port: number;
  /** Source address of the egress pool. */
  localAddress?: string;
  ehloName: string;
  tls: SessionTlsOptions;
  timeouts?: Partial<SessionTimeouts>;
  log?: SessionLog;
}

export interface SessionEvidence {
  mxHost: string;
  address: string;
  port: number;
  localAddress: string | null;
  tls: SessionTlsEvidence | null;
  /** EHLO keywords with their parameters, as the server last announced them (`SIZE 10240000`). */
  ehlo: string[];
  /** TCP connect. */
  connectMs: number;
  /** Greeting through the last EHLO reply (STARTTLS included). */
  readyMs: number;
  /** STARTTLS sent through the post-TLS EHLO reply; null without TLS. */
  tlsMs: number | null;
  /** Opportunistic mode only: STARTTLS failed, and this session is the plaintext retry. */
  plaintextFallback?: { reason: string };
}

export type OpenStage = 'connect' | 'greeting' | 'ehlo' | 'starttls' | 'tls-policy';

export interface SessionFailure {
  ok: false;
  stage: OpenStage;
  reply?: SmtpResponse;
  error: string;
  evidence: SessionEvidence;
  /** What TLS looked like, for TLS-RPT (`checkTlsOutcome`), once the session got that far. */
  observedTls?: ObservedTls;
}

export type SessionResult = { ok: true; session: SmtpSession } | SessionFailure;

export interface SmtpSession {
  readonly evidence: SessionEvidence;
  readonly observedTls: ObservedTls;
  /** Transactions started on this connection (for the pool's messages-per-connection limit). */
  readonly messagesSent: number;
  /** False once the connection failed, was closed by either side, or is closing. */
  readonly usable: boolean;
  send(message: OutgoingMessage): Promise<SendResult>;
  /** RSET (RFC 5321 §4.1.1.5). `send` does it by itself after a transaction that left state behind. */
  reset(): Promise<boolean>;
  /** QUIT, bounded; then the socket is closed. A transaction in flight ends with 451 4.4.2. */
  close(): Promise<void>;
}

export async function openSession(options: SessionOptions): Promise<SessionResult> {
  const timeouts: SessionTimeouts = { ...SMTP_TIMEOUTS, ...options.timeouts };
  const first = await attempt(options, timeouts, false);
  if (first.ok || first.stage !== 'starttls') return first;
  if (options.tls.mode !== 'opportunistic') {
    return { ...first, stage: 'tls-policy', error: `STARTTLS failed and TLS is required (${options.tls.mode}): ${first.error}` };
  }
  // RFC 7435 §3 (opportunistic security): a failed upgrade must not cost the delivery. The failed
  // connection's state is unknown, so the plaintext retry takes a fresh one and skips STARTTLS.
  options.log?.warn({ mxHost: options.host, address: options.address, reason: first.error }, 'STARTTLS failed; retrying in plaintext');
  const second = await attempt(options, timeouts, true);
  const fallback = { reason: first.error };
  if (second.ok) second.session.evidence.plaintextFallback = fallback;
  else second.evidence.plaintextFallback = fallback;
  return second;
}

const elapsed = (since: number): number => Math.round(performance.now() - since);

async function attempt(o: SessionOptions, t: SessionTimeouts, plaintext: boolean): Promise<SessionResult> {
  const { host: mxHost, address, port } = o;
  const evidence: SessionEvidence = {
    mxHost,
    address,
    port,
    localAddress: o.localAddress ?? null,
    tls: null,
    ehlo: [],
    connectMs: 0,
    readyMs: 0,
    tlsMs: null,
  };
  // Durations are measured on the monotonic clock: they describe the network, not the schedule.
  const started = performance.now();
  const tcp = await connectTcp(o, t.connectMs);
  evidence.connectMs = elapsed(started);
  if (!tcp.ok) return { ok: false, stage: 'connect', error: tcp.error, evidence };
  // The address the OS bound, so "which IP sent this" has an answer even without a configured pool.
  evidence.localAddress = tcp.socket.localAddress ?? evidence.localAddress;
  const starttlsSentAt = watchStarttls(tcp.socket);

  const servername = net.isIP(o.tls.servername) ? undefined : o.tls.servername;
  const conn = new SMTPConnection({
    connection: tcp.socket,
    host: o.address,
    port: o.port,
    ...(servername ? { servername } : {}),
    name: o.ehloName,
    ignoreTLS: plaintext,
    tls: {
      rejectUnauthorized: false,
      ...(servername ? { servername } : {}),
      ...(o.tls.ca !== undefined ? { ca: o.tls.ca } : {}),
      ...(o.tls.minVersion ? { minVersion: o.tls.minVersion } : {}),
    },
    greetingTimeout: t.greetingMs,
    // Nodemailer's connection deadline covers the greeting, EHLO, STARTTLS and the second EHLO.
    connectionTimeout: t.greetingMs + 3 * t.commandMs,
    socketTimeout: t.commandMs,
    socketCloseTimeout: Math.min(t.commandMs, QUIT_MAX_MS),
    logger: false,
  });
  const state: SessionState = { lastError: null };
  conn.on('error', (e: ClientError) => {
    state.lastError = e;
  });

  const setupStarted = performance.now();
  const setup = await whileOpen<ClientError | null>(
    conn,
    (done) => conn.connect((err) => done(err ?? null)),
    () => state.lastError ?? Object.assign(new Error('connection closed during setup'), { code: 'ECONNECTION' }),
  );
  evidence.readyMs = elapsed(setupStarted);
  if (setup) {
    conn.close();
    const stage = setupStage(conn, setup, starttlsSentAt() !== null);
    const reply = replyOf(setup, stage === 'greeting' ? 'CONNECT' : stage === 'starttls' ? 'STARTTLS' : 'EHLO');
    return { ok: false, stage, ...(reply ? { reply } : {}), error: errorText(setup), evidence };
  }

  evidence.ehlo = ehloExtensions(typeof conn.lastServerResponse === 'string' ? conn.lastServerResponse : '');
  let observed: ObservedTls = { tls: false, hostname: o.tls.servername };
  const tlsStarted = starttlsSentAt();
  if (conn.secure && conn._socket) {
    const described = describeTls(conn._socket as TLSSocket, o.tls.servername);
    evidence.tls = described.evidence;
    observed = described.observed;
    if (tlsStarted !== null) evidence.tlsMs = elapsed(tlsStarted);
  }
  const verdict = judgeTls(o.tls, observed, evidence.tls);
  if (!verdict.ok) {
    o.log?.warn({ mxHost: o.host, address: o.address, mode: o.tls.mode, reason: verdict.reason }, 'TLS policy refused the session');
    await quit(conn, t);
    return { ok: false, stage: 'tls-policy', error: verdict.reason ?? 'TLS policy refused', evidence, observedTls: observed };
  }
  return { ok: true, session: createSession(conn, t, evidence, observed, state) };
}

interface SessionState {
  lastError: ClientError | null;
}

/**
 * Runs one exchange and resolves with what it calls back, or with `onEnd()` when the connection
 * ends first. Nodemailer forgets a pending callback when it closes, and emits 'end' just before it
 * hands the real error to a pending send, so 'end' is only trusted one turn later.
 */
function whileOpen<T>(conn: SMTPConnection, start: (done: (value: T) => void) => void, onEnd: () => T): Promise<T> {
  return new Promise<T>((resolve) => {
    let settled = false;
    const done = (value: T): void => {
      if (settled) return;
      settled = true;
      conn.off('end', ended);
      resolve(value);
    };
    const ended = (): void => {
      setImmediate(() => done(onEnd()));
    };
    if (conn.destroyed) return resolve(onEnd());
    conn.once('end', ended);
    start(done);
  });
}

async function quit(conn: SMTPConnection, t: SessionTimeouts): Promise<void> {
  if (conn.destroyed) return;
  const timer = setTimeout(() => conn.close(), Math.min(t.commandMs, QUIT_MAX_MS));
  await whileOpen<void>(
    conn,
    () => conn.quit(),
    () => undefined,
  );
  clearTimeout(timer);
  conn.close();
}

function createSession(
  conn: SMTPConnection,
  t: SessionTimeouts,
  evidence: SessionEvidence,
  observedTls: ObservedTls,
  state: SessionState,
): SmtpSession {
  let messagesSent = 0;
  let busy = false;
  let failed = false;
  let needsReset = false;
  let closing: Promise<void> | null = null;
  let abort: ((why: string) => void) | null = null;
  conn.on('error', () => {
    failed = true;
  });
  conn.on('end', () => {
    failed = true;
  });
  const usable = (): boolean => !failed && !closing && !conn.destroyed;
  const socketTimeout = (ms: number): void => {
    if (conn._socket) conn._socket.setTimeout(ms);
  };

  const reset = (): Promise<boolean> => {
    if (!usable()) return Promise.resolve(false);
    return whileOpen<boolean>(
      conn,
      (done) => conn.reset((err) => done(!err)),
      () => false,
    ).then((ok) => {
      if (ok) needsReset = false;
      else failed = true;
      return ok;
    });
  };

  const transact = (m: OutgoingMessage): Promise<Transaction> =>
    new Promise((resolve, reject) => {
      let bodyStarted = false;
      let settled = false;
      const stop = (): boolean => {
        if (settled) return false;
        settled = true;
        abort = null;
        clearTimeout(watchdog);
        conn.off('end', ended);
        socketTimeout(t.commandMs);
        return true;
      };
      const settle = (r: Transaction): void => {
        if (stop()) resolve(r);
      };
      const envelope = { from: m.from, to: m.to, size: m.size ?? m.raw.length, use8BitMime: m.eightBit === true };
      const lost = (why: string, err?: ClientError): Transaction => {
        failed = true;
        return connectionLost(m, envelopeState(envelope), { bodyStarted, why, ...(err ? { err } : {}) });
      };
      const ended = (): void => {
        setImmediate(() => settle(lost(state.lastError ? errorText(state.lastError) : 'connection closed', state.lastError ?? undefined)));
      };
      // Bounded whatever the server does: every step has its own timeout, this caps their sum.
      const budget = t.commandMs * (m.to.length + 3) + t.dataBlockMs + t.dataMs;
      const watchdog = setTimeout(() => {
        settle(lost(`transaction exceeded ${budget} ms`));
        conn.close();
      }, budget);
      abort = (why) => settle(lost(why));
      conn.once('end', ended);

      // Nodemailer reads the body only once DATA was answered with 354: the moment to switch
      // from command to data timeouts (RFC 5321 §4.5.3.2.5, §4.5.3.2.6).
      const body = new Readable({
        read() {
          if (bodyStarted) return;
          bodyStarted = true;
          socketTimeout(t.dataBlockMs);
          // Nodemailer's dot-stuffing stream writes the body, then the final "." line, each on its
          // own: corked until the stream has written both (it does so in the same turn), they
          // leave in one write, a system call and (over TLS) a record fewer per message.
          const socket = conn._socket;
          if (socket) {
            socket.cork();
            setImmediate(() => socket.uncork());
          }
          this.push(m.raw);
          this.push(null);
        },
      });
      body.once('end', () => socketTimeout(t.dataMs));
      socketTimeout(t.commandMs);
      conn.send(envelope, body, (err, info) => {
        if (!err) return settle(fromInfo(m, info));
        if (err.command === 'API' && err.code !== 'ECONNECTION') {
          // Nodemailer refused the envelope before writing anything (e.g. CR/LF in an address): a
          // local fault, thrown like any other; the session stays usable.
          if (stop()) reject(new Error(`smtp session: envelope refused locally: ${errorText(err)}`));
          return;
        }
        const r = fromError(m, envelopeState(envelope), err, bodyStarted);
        if (r.connection) return settle(lost(errorText(err), err));
        needsReset = r.needsReset;
        settle(r.result);
      });
    });

  return {
    evidence,
    observedTls,
    get messagesSent() {
      return messagesSent;
    },
    get usable() {
      return usable();
    },
    async send(m) {
      if (busy) throw new Error('smtp session: send() while a transaction is in flight');
      const started = performance.now();
      const done = (r: Transaction): SendResult => ({ ...r, durationMs: elapsed(started) });
      if (!usable()) {
        const why = `session not usable: ${state.lastError ? errorText(state.lastError) : 'closed'}`;
        return done({ perRecipient: everyone(m.to, synthetic(451, '4.4.2', why, 'MAIL')), stage: 'connection', error: why });
      }
      const refused = localRefusal(m, evidence.ehlo);
      if (refused) return done(refused);
      busy = true;
      try {
        if (needsReset && !(await reset())) {
          const why = `RSET failed: ${state.lastError ? errorText(state.lastError) : 'no reply'}`;
          return done({ perRecipient: everyone(m.to, synthetic(451, '4.4.2', why, 'MAIL')), stage: 'reset', error: why });
        }
        messagesSent++;
        return done(await transact(m));
      } finally {
        busy = false;
      }
    },
    reset,
    close() {
      closing ??= (async () => {
        if (abort) {
          abort('session closed locally');
          conn.close();
          return;
        }
        await quit(conn, t);
      })();
      return closing;
    },
  };
}

function connectTcp(o: SessionOptions, ms: number): Promise<{ ok: true; socket: net.Socket } | { ok: false; error: string }> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: o.address, port: o.port, ...(o.localAddress ? { localAddress: o.localAddress } : {}) });
    const finish = (r: { ok: true; socket: net.Socket } | { ok: false; error: string }): void => {
      clearTimeout(timer);
      socket.off('error', failed);
      socket.off('connect', connected);
      if (!r.ok) {
        socket.on('error', () => {}); // late errors of a socket we gave up on
        socket.destroy();
      }
      resolve(r);
    };
    const failed = (e: NodeJS.ErrnoException): void => finish({ ok: false, error: `${e.code ?? 'ERROR'}: ${e.message}` });
    const connected = (): void => finish({ ok: true, socket });
    const timer = setTimeout(
      () => finish({ ok: false, error: `ETIMEDOUT: no TCP connection to ${o.address}:${o.port} within ${ms} ms` }),
      ms,
    );
    socket.once('error', failed);
    socket.once('connect', connected);
  });
}

/** When STARTTLS was written (for `tlsMs` and to place a failure). Nodemailer writes one Buffer per command. */
function watchStarttls(socket: net.Socket): () => number | null {
  let at: number | null = null;
  const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
  socket.write = ((...args: unknown[]) => {
    const chunk = args[0];
    if (at === null && Buffer.isBuffer(chunk) && chunk.length === 10 && chunk.toString('latin1') === 'STARTTLS\r\n') {
      at = performance.now();
    }
    return write(...args);
  }) as typeof socket.write;
  return () => at;
}

function setupStage(conn: SMTPConnection, err: ClientError, starttlsSent: boolean): OpenStage {
  if (err.command === 'EHLO' || err.command === 'HELO') return 'ehlo';
  if (starttlsSent && !conn.secure) return 'starttls';
  // Until a 220 greeting arrived, whatever went wrong went wrong at the greeting (RFC 5321 §3.1).
  const last = conn.lastServerResponse;
  return last === false || !last.startsWith('220') ? 'greeting' : 'ehlo';
}
