import { SMTPServer } from 'smtp-server';
import { builtinOverride, hasEnhancedCode } from './replies.js';

/**
 * smtp-server with our reply discipline, shared by every SMTP listener (submission, inbound MX):
 * every reply after EHLO carries an RFC 3463 enhanced code, and smtp-server would prefix one to
 * ours too, so each connection's `send` is wrapped: a text that already opens with a code (every
 * reply from replies.ts does) goes out as is, and a few of smtp-server's own replies are swapped for
 * ours (`builtinOverride`). See submission.ts for the longer story.
 */
type Connection = SMTPServer['connections'] extends Set<infer C> ? C : never;

/** Gives every connection the reply wrapper described above, before it says anything. */
export class EnhancedSmtpServer extends SMTPServer {
  private readonly wrapped = new WeakSet<Connection>();

  override connect(...args: Parameters<SMTPServer['connect']>): void {
    super.connect(...args);
    // super.connect adds the connection and only arms timers; its first reply is the greeting after
    // a short delay, so wrapping right after it returns catches every reply that matters.
    for (const c of this.connections) if (!this.wrapped.has(c)) this.wrap(c);
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
