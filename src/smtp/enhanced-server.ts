import type { Socket } from 'node:net';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { peerAddress } from '../core/index.js';
import { builtinOverride, hasEnhancedCode } from './replies.js';

/**
 * smtp-server with our reply discipline and our connection limits, shared by every SMTP listener
 * (submission, inbound MX; listener.ts builds both).
 *
 * Replies: every reply after EHLO carries an RFC 3463 enhanced code, and smtp-server would prefix one
 * to ours too, so each connection's `send` is wrapped: a text that already opens with a code (every
 * reply from replies.ts does) goes out as is, and a few of smtp-server's own replies are swapped for
 * ours (`builtinOverride`). See submission.ts for the longer story.
 *
 * Limits: smtp-server has one global `maxClients`, so one address holding that many idle sockets
 * locks every other client out. Here each remote address may hold at most `maxClientsPerIp`
 * connections; the next one is answered `421 4.7.0` and closed before an SMTP session is built for
 * it, so refusing costs almost nothing and never counts against the global limit. A client that has
 * not said EHLO/HELO within `helloTimeoutMs` of connecting is dropped with `421 4.4.2`, well before
 * the idle timeout (smtp-server's `socketTimeout`), which applies once the session is under way.
 */
type Connection = SMTPServer['connections'] extends Set<infer C> ? C : never;

export interface ConnectionLimits {
  /** Connections one remote address may hold at once; 0 for no per-address limit. */
  maxClientsPerIp: number;
  /** Time from connect to the client's EHLO/HELO before it is dropped; 0 leaves only the idle timeout. */
  helloTimeoutMs: number;
}

export class EnhancedSmtpServer extends SMTPServer {
  private readonly wrapped = new WeakSet<Connection>();
  private readonly perAddress = new Map<string, number>();

  constructor(
    options: SMTPServerOptions,
    private readonly limits: ConnectionLimits & { name: string; onRefused?: (address: string, open: number) => void },
  ) {
    super(options);
  }

  /** Open connections per remote address (for tests and logs). */
  openFrom(address: string): number {
    return this.perAddress.get(peerAddress(address)) ?? 0;
  }

  override connect(...args: Parameters<SMTPServer['connect']>): void {
    const [socket, socketOptions] = args as [Socket, { remoteAddress?: string } | undefined];
    // `::ffff:192.0.2.1` (an IPv4 peer on a dual-stack socket) counts as `192.0.2.1`.
    const key = peerAddress(socketOptions?.remoteAddress ?? socket.remoteAddress);
    const open = this.perAddress.get(key) ?? 0;
    if (this.limits.maxClientsPerIp > 0 && open >= this.limits.maxClientsPerIp) {
      // RFC 5321 §3.1: a server may refuse a connection with a 421 in place of the greeting.
      this.limits.onRefused?.(key, open);
      socket.on('error', () => undefined);
      socket.end(`421 4.7.0 ${this.limits.name} Too many connections from your address, try again later\r\n`);
      // A peer that never closes its side must not keep the descriptor.
      setTimeout(() => socket.destroy(), 2_000).unref();
      return;
    }
    this.perAddress.set(key, open + 1);
    let counted = true;
    const release = () => {
      if (!counted) return;
      counted = false;
      const n = (this.perAddress.get(key) ?? 1) - 1;
      if (n > 0) this.perAddress.set(key, n);
      else this.perAddress.delete(key);
    };
    socket.once('close', release);

    super.connect(...args);
    // super.connect adds the connection and only arms timers; its first reply is the greeting after
    // a short delay, so wrapping right after it returns catches every reply that matters.
    let mine: Connection | undefined;
    for (const c of this.connections) {
      if (!this.wrapped.has(c)) {
        this.wrap(c);
        mine = c;
      }
    }
    if (mine && this.limits.helloTimeoutMs > 0) this.armHelloTimeout(mine, socket);
  }

  private armHelloTimeout(c: Connection, socket: Socket): void {
    const timer = setTimeout(() => {
      // RFC 5321 §4.5.3.2 gives the client 5 minutes per command once a session is under way; a
      // client that never opens one is only holding a slot (and is what a slow-loris looks like).
      // STARTTLS forgets the EHLO name (RFC 3207 §4.2) but needed one first: such a client said hello,
      // and one in the middle of the handshake cannot be answered at all.
      if (!c.hostNameAppearsAs && !c.secure && !c._upgrading && this.connections.has(c)) {
        c.send(421, `4.4.2 ${this.limits.name} No EHLO/HELO in time, closing connection`);
      }
    }, this.limits.helloTimeoutMs);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  }

  private wrap(c: Connection): void {
    this.wrapped.add(c);
    const send = c.send.bind(c);
    c.send = (code, data, context) => {
      const own = builtinOverride(code, context);
      if (own) return send(own.responseCode, own.message, false);
      if (typeof data === 'string' && hasEnhancedCode(data)) return send(code, data, false);
      return send(code, data, context);
    };
  }
}
