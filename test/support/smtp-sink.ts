/**
 * A loopback SMTP peer for delivery tests and benchmarks: smtp-server on 127.0.0.1:0 that answers
 * each recipient by a scripted behaviour and records what it accepted.
 *
 * Design. The happy path is the default (accept everything, STARTTLS with a self-signed
 * certificate); a test overrides what it is about, per recipient (`recipients`, first match wins)
 * or for the whole sink (`throttle`, `tls`, `size`, …). Replies carry their RFC 3463 enhanced code
 * in the text (`550 5.7.1 …`), as real MTAs send them. smtp-server's ENHANCEDSTATUSCODES mode is
 * left off because it would prefix its own code to ours. Recording is cheap by design:
 * `record: 'count'` keeps only counters, so a benchmark can push thousands of messages a second.
 *
 * Stages and what a behaviour can do there (RFC 5321 §4.1.1):
 * - RCPT: `reply` (default stage), `deferTimes` (451 4.3.0 for the first n attempts), `delayMs`,
 *   `drop: 'rcpt'` (the socket is destroyed instead of replying).
 * - DATA: `reply` / `delayMs` with `at: 'data'`, `drop: 'data'` (destroyed once the body starts).
 *   One reply answers DATA for the whole transaction, so the first recipient that has a DATA
 *   reply decides it, and the longest DATA delay among them applies.
 * - MAIL and connect: `throttle` answers 421 4.7.0 and closes once `after` messages were accepted.
 */
import type { Socket } from 'node:net';
import type { TestContext } from 'node:test';
import type { SMTPServerDataStream, SMTPServerOptions, SMTPServerSession } from 'smtp-server';
import { SMTPServer } from 'smtp-server';
import { selfSigned } from './certs.js';

export interface SinkReply {
  code: number;
  /** RFC 3463 `class.subject.detail`, e.g. `5.1.1`. */
  enhanced?: string;
  text?: string;
}

export interface RecipientBehaviour {
  /** Answer with this instead of accepting. */
  reply?: SinkReply;
  /** Where `reply` and `delayMs` apply. Default `'rcpt'`. */
  at?: 'rcpt' | 'data';
  /** Answer 451 4.3.0 to the first n RCPT attempts for this address (over all connections). */
  deferTimes?: number;
  /** Wait this long before answering at the `at` stage. */
  delayMs?: number;
  /** Destroy the connection at this stage instead of answering. */
  drop?: 'rcpt' | 'data';
}

export interface RecipientRule extends RecipientBehaviour {
  /** An exact address (case-insensitive) or a predicate over the lower-cased address. */
  match: string | ((address: string) => boolean);
}

export interface SinkThrottle {
  /** Accepted messages (sink-wide) before the sink starts refusing. */
  after: number;
  /** Default 421 4.7.0. A 421 makes smtp-server close the connection (RFC 5321 §3.8). */
  reply?: SinkReply;
  /** Wait this long before refusing (a tarpit), at connect and at MAIL. */
  delayMs?: number;
}

export interface SinkBehaviour {
  /** For recipients that no rule matches. Default: accept. */
  default?: RecipientBehaviour;
  recipients?: RecipientRule[];
  throttle?: SinkThrottle;
  /** `'self-signed'` (default) offers STARTTLS with a throwaway certificate; `'none'` offers no STARTTLS. */
  tls?: 'none' | 'self-signed' | { key: string; cert: string };
  /** SIZE extension limit in bytes (RFC 1870); larger messages get 552. */
  size?: number;
  /** Offer and require AUTH PLAIN/LOGIN with these credentials. Default: no AUTH, as on an MX. */
  auth?: { username: string; password: string };
  banner?: string;
  /** The host name in the greeting and EHLO reply. Default `localhost`. */
  name?: string;
  maxClients?: number;
  /** `'full'` (default) keeps every accepted message; `'count'` keeps counters only. */
  record?: 'full' | 'count';
  /** Offer 8BITMIME in the EHLO reply (RFC 6152). Default true, as smtp-server does. */
  eightBitMime?: boolean;
}

export interface SinkMessage {
  /** The sink's queue id, also sent in the 250 reply to DATA. */
  id: string;
  from: string;
  to: string[];
  raw: Buffer;
  /** The MAIL FROM BODY parameter (RFC 6152), upper-cased, or null when none was given. */
  body: string | null;
  tls: { protocol: string; cipher: string } | null;
  /** The SNI name the client sent, if any. */
  servername: string | null;
  heloName: string;
  remoteAddress: string;
  sessionId: string;
}

export interface SmtpSink {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** Accepted messages, oldest first (stays empty with `record: 'count'`). */
  readonly messages: SinkMessage[];
  /** Accepted messages, in either record mode. */
  readonly accepted: number;
  /** Body bytes of accepted messages. */
  readonly bytes: number;
  /** Connections opened to the sink (refused ones included). */
  readonly connections: number;
  /** RCPT attempts per lower-cased address, accepted or not. */
  readonly attemptsByRecipient: Map<string, number>;
  /** Errors the server saw (failed TLS handshakes, resets). */
  readonly errors: Error[];
  /** Swap per-recipient behaviour or the throttle while running (e.g. to let a breaker recover). */
  setBehaviour(patch: Pick<SinkBehaviour, 'default' | 'recipients' | 'throttle'>): void;
  /** Resolves with the first n messages once n were accepted; rejects after `timeoutMs`. */
  waitFor(n: number, timeoutMs?: number): Promise<SinkMessage[]>;
  close(): Promise<void>;
}

const DEFER: SinkReply = { code: 451, enhanced: '4.3.0', text: 'Try again later' };
const THROTTLE: SinkReply = { code: 421, enhanced: '4.7.0', text: 'Too many messages, slow down' };
const TOO_BIG: SinkReply = { code: 552, enhanced: '5.3.4', text: 'Message too big' };
const ACCEPT: RecipientBehaviour = {};

function replyError(r: SinkReply): Error & { responseCode: number } {
  const text = [r.enhanced, r.text ?? 'Rejected by test sink'].filter(Boolean).join(' ');
  return Object.assign(new Error(text), { responseCode: r.code });
}

/** Starts a sink that `t.after` closes. */
export async function startSmtpSink(t: Pick<TestContext, 'after'>, behaviour: SinkBehaviour = {}): Promise<SmtpSink> {
  const sink = await startSmtpSinkRaw(behaviour);
  t.after(() => sink.close());
  return sink;
}

/** Starts a sink with no test context (benchmarks); the caller closes it. */
export async function startSmtpSinkRaw(behaviour: SinkBehaviour = {}): Promise<SmtpSink> {
  let rules = behaviour.recipients ?? [];
  let fallback = behaviour.default ?? ACCEPT;
  let throttle = behaviour.throttle;
  const full = (behaviour.record ?? 'full') === 'full';
  const messages: SinkMessage[] = [];
  const attempts = new Map<string, number>();
  const errors: Error[] = [];
  const counters = { accepted: 0, bytes: 0, connections: 0 };
  const waiters = new Set<{ n: number; resolve: () => void }>();
  // The socket under each session, to drop it; raw sockets are found by their remote endpoint.
  const rawByPeer = new Map<string, Socket>();
  const socketBySession = new Map<string, Socket>();

  const behaviourFor = (address: string): RecipientBehaviour => {
    for (const rule of rules) {
      if (typeof rule.match === 'string' ? rule.match.toLowerCase() === address : rule.match(address)) return rule;
    }
    return fallback;
  };
  const throttled = (): boolean => throttle !== undefined && counters.accepted >= throttle.after;
  const refuseThrottled = (cb: (err?: Error | null) => void): void => {
    const t = throttle!;
    later(t.delayMs, () => cb(replyError(t.reply ?? THROTTLE)));
  };
  const drop = (session: SMTPServerSession): void => {
    socketBySession.get(session.id)?.destroy();
  };
  const later = (ms: number | undefined, fn: () => void): void => {
    if (ms && ms > 0) setTimeout(fn, ms);
    else fn();
  };

  const tlsMode = behaviour.tls ?? 'self-signed';
  const disabled = [...(behaviour.auth ? [] : ['AUTH']), ...(tlsMode === 'none' ? ['STARTTLS'] : [])];
  const keyPair = tlsMode === 'none' ? undefined : tlsMode === 'self-signed' ? selfSigned() : tlsMode;

  const options: SMTPServerOptions = {
    secure: false,
    name: behaviour.name ?? 'localhost',
    logger: false,
    disableReverseLookup: true,
    disabledCommands: disabled,
    hideSTARTTLS: tlsMode === 'none',
    hide8BITMIME: behaviour.eightBitMime === false,
    authOptional: !behaviour.auth,
    allowInsecureAuth: true,
    closeTimeout: 50,
    onConnect(session, cb) {
      counters.connections++;
      const raw = rawByPeer.get(`${session.remoteAddress}|${session.remotePort}`);
      if (raw) socketBySession.set(session.id, raw);
      if (throttled()) return refuseThrottled(cb);
      cb();
    },
    onSecure(socket, session, cb) {
      socketBySession.set(session.id, socket);
      cb();
    },
    onAuth(auth, _session, cb) {
      const want = behaviour.auth;
      if (want && auth.username === want.username && auth.password === want.password) return cb(null, { user: auth.username });
      cb(replyError({ code: 535, enhanced: '5.7.8', text: 'Authentication credentials invalid' }));
    },
    onMailFrom(_address, _session, cb) {
      if (throttled()) return refuseThrottled(cb);
      cb();
    },
    onRcptTo(address, session, cb) {
      const addr = address.address.toLowerCase();
      const n = (attempts.get(addr) ?? 0) + 1;
      attempts.set(addr, n);
      const b = behaviourFor(addr);
      if (b.drop === 'rcpt') {
        drop(session);
        return cb(replyError(DEFER)); // written nowhere: the socket is gone
      }
      const atRcpt = (b.at ?? 'rcpt') === 'rcpt';
      later(atRcpt ? b.delayMs : 0, () => {
        if (b.deferTimes !== undefined && n <= b.deferTimes) return cb(replyError(DEFER));
        if (atRcpt && b.reply) return cb(replyError(b.reply));
        cb();
      });
    },
    onData(stream: SMTPServerDataStream, session, cb) {
      const rcpts = session.envelope.rcptTo.map((r) => r.address);
      let reply: SinkReply | undefined;
      let delayMs = 0;
      let dropHere = false;
      for (const a of rcpts) {
        const b = behaviourFor(a.toLowerCase());
        if (b.drop === 'data') dropHere = true;
        if (b.at !== 'data') continue;
        reply ??= b.reply;
        delayMs = Math.max(delayMs, b.delayMs ?? 0);
      }
      if (dropHere) {
        // Mid-DATA: as soon as the body starts (or ends, for an empty one), before any reply.
        let done = false;
        const cut = (): void => {
          if (done) return;
          done = true;
          drop(session);
          cb(replyError(DEFER)); // written nowhere: the socket is gone
        };
        stream.once('data', cut);
        stream.once('end', cut);
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      stream.on('data', (c: Buffer) => {
        size += c.length;
        if (full) chunks.push(c);
      });
      stream.once('end', () => {
        if (stream.sizeExceeded) return cb(replyError(TOO_BIG));
        later(delayMs, () => {
          if (reply) return cb(replyError(reply));
          counters.accepted++;
          counters.bytes += size;
          const id = `sink-${counters.accepted}`;
          if (full) {
            const mailFrom = session.envelope.mailFrom;
            const tls = session.tlsOptions;
            messages.push({
              id,
              from: mailFrom ? mailFrom.address : '',
              to: rcpts,
              raw: Buffer.concat(chunks, size),
              body: bodyParam(mailFrom ? mailFrom.args : false),
              tls: tls ? { protocol: tls.version, cipher: tls.name } : null,
              servername: session.servername || null,
              heloName: session.hostNameAppearsAs,
              remoteAddress: session.remoteAddress,
              sessionId: session.id,
            });
          }
          for (const w of waiters) if (counters.accepted >= w.n) w.resolve();
          cb(null, `2.0.0 Ok: queued as ${id}`);
        });
      });
    },
    onClose(session) {
      socketBySession.delete(session.id);
    },
  };
  if (keyPair) Object.assign(options, { key: keyPair.key, cert: keyPair.cert });
  if (behaviour.auth) options.authMethods = ['PLAIN', 'LOGIN'];
  if (behaviour.size !== undefined) Object.assign(options, { size: behaviour.size, rejectOversized: true });
  if (behaviour.banner !== undefined) options.banner = behaviour.banner;
  if (behaviour.maxClients !== undefined) options.maxClients = behaviour.maxClients;

  const server = new SMTPServer(options);
  server.on('error', (e) => errors.push(e));
  server.server.on('connection', (socket: Socket) => {
    const key = `${socket.remoteAddress}|${socket.remotePort}`;
    rawByPeer.set(key, socket);
    socket.once('close', () => rawByPeer.delete(key));
  });
  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.server.address();
  if (address === null || typeof address === 'string') throw new Error('smtp sink: no TCP address after listen');

  let closing: Promise<void> | undefined;
  return {
    host: '127.0.0.1',
    port: address.port,
    messages,
    get accepted() {
      return counters.accepted;
    },
    get bytes() {
      return counters.bytes;
    },
    get connections() {
      return counters.connections;
    },
    attemptsByRecipient: attempts,
    errors,
    setBehaviour(patch) {
      if ('recipients' in patch) rules = patch.recipients ?? [];
      if ('default' in patch) fallback = patch.default ?? ACCEPT;
      if ('throttle' in patch) throttle = patch.throttle;
    },
    waitFor(n, timeoutMs = 5000) {
      if (counters.accepted >= n) return Promise.resolve(messages.slice(0, n));
      return new Promise<SinkMessage[]>((resolve, reject) => {
        const waiter = {
          n,
          resolve: () => {
            clearTimeout(timer);
            waiters.delete(waiter);
            resolve(messages.slice(0, n));
          },
        };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          const tried =
            [...attempts]
              .slice(0, 5)
              .map(([a, k]) => `${a}×${k}`)
              .join(', ') || 'none';
          reject(
            new Error(
              `smtp sink on port ${address.port}: waited ${timeoutMs} ms for ${n} accepted message(s), got ` +
                `${counters.accepted} (connections: ${counters.connections}; RCPT attempts: ${tried})`,
            ),
          );
        }, timeoutMs);
        waiters.add(waiter);
      });
    },
    close() {
      // smtp-server answers lingering clients 421 after `closeTimeout` and then calls back.
      closing ??= new Promise<void>((resolve) => server.close(() => resolve()));
      return closing;
    },
  };
}

function bodyParam(args: false | Record<string, string | boolean> | undefined): string | null {
  const v = args ? args.BODY : undefined;
  return typeof v === 'string' ? v.toUpperCase() : null;
}
