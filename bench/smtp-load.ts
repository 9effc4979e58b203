import net from 'node:net';
import tls from 'node:tls';

/**
 * The one SMTP client of `deliver --vs postfix`, used alike for Postwarden's submission port and for
 * Postfix's smtpd, so both get the same bytes, the same sessions and the same protocol steps:
 * EHLO, STARTTLS when offered (RFC 3207), EHLO again, AUTH PLAIN when credentials are given
 * (RFC 4954), then one transaction per message (MAIL, RCPT, DATA, RFC 5321 §3.3), one command at a
 * time (no PIPELINING), many transactions per connection. `sessions` connections run at once and
 * take the next message from a shared counter. A session whose connection fails is reopened
 * (bounded); the message in flight counts as refused. Only 127.0.0.1 is dialled.
 */
export interface SmtpMessage {
  from: string;
  to: string;
  /** The whole message, CRLF line ends, without the final dot. */
  raw: string;
}

export interface SmtpLoadResult {
  /** Messages answered 250 after DATA, per recipient domain. */
  accepted: Record<string, number>;
  refused: number;
  problems: string[];
  /** Per-message latency (MAIL → 250 after the data), ms, sorted. */
  latencies: number[];
  /** Whether the sessions ran under STARTTLS. */
  tls: boolean;
  t0: number;
  t1: number;
}

const wallNow = () => performance.timeOrigin + performance.now();

/** Reads SMTP replies (possibly multi-line, RFC 5321 §4.2.1) from a socket, one at a time. */
function replyReader(sock: net.Socket | tls.TLSSocket) {
  let buf = '';
  let lines: string[] = [];
  let waiter: { resolve: (r: { code: number; text: string }) => void; reject: (e: Error) => void } | null = null;
  const ready: Array<{ code: number; text: string }> = [];
  let failed: Error | null = null;
  const onData = (d: Buffer) => {
    buf += d.toString('latin1');
    for (let i = buf.indexOf('\r\n'); i >= 0; i = buf.indexOf('\r\n')) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 2);
      lines.push(line);
      if (/^\d{3}(?: |$)/.test(line)) {
        const reply = { code: Number(line.slice(0, 3)), text: lines.join('\n') };
        lines = [];
        if (waiter) {
          const w = waiter;
          waiter = null;
          w.resolve(reply);
        } else ready.push(reply);
      }
    }
  };
  const onEnd = (e?: Error) => {
    failed = e ?? new Error('connection closed');
    if (waiter) {
      const w = waiter;
      waiter = null;
      w.reject(failed);
    }
  };
  const onError = (e: Error) => onEnd(e);
  const onClose = () => onEnd();
  sock.on('data', onData);
  sock.on('error', onError);
  sock.on('close', onClose);
  return {
    next(timeoutMs = 60_000): Promise<{ code: number; text: string }> {
      const r = ready.shift();
      if (r) return Promise.resolve(r);
      if (failed) return Promise.reject(failed);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiter = null;
          reject(new Error(`no SMTP reply within ${timeoutMs} ms`));
        }, timeoutMs);
        waiter = {
          resolve: (x) => {
            clearTimeout(timer);
            resolve(x);
          },
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          },
        };
      });
    },
    detach() {
      sock.off('data', onData);
      sock.off('error', onError);
      sock.off('close', onClose);
    },
  };
}

class SmtpSession {
  private constructor(
    private sock: net.Socket | tls.TLSSocket,
    private replies: ReturnType<typeof replyReader>,
    readonly tls: boolean,
  ) {}

  static async open(port: number, auth?: { user: string; pass: string }): Promise<SmtpSession> {
    const raw = net.connect({ host: '127.0.0.1', port });
    raw.setNoDelay(true);
    let replies = replyReader(raw);
    let sock: net.Socket | tls.TLSSocket = raw;
    const expect = async (code: number, what: string) => {
      const r = await replies.next();
      if (r.code !== code) throw new Error(`${what}: ${r.text}`);
      return r;
    };
    const cmd = (line: string) => sock.write(`${line}\r\n`);
    try {
      await expect(220, 'greeting');
      cmd('EHLO client.bench.localdomain');
      let ehlo = await expect(250, 'EHLO');
      let secure = false;
      if (/^250[- ]STARTTLS\b/im.test(ehlo.text)) {
        cmd('STARTTLS');
        await expect(220, 'STARTTLS');
        replies.detach();
        sock = tls.connect({ socket: raw, rejectUnauthorized: false, servername: 'localhost' });
        await new Promise<void>((resolve, reject) => {
          sock.once('secureConnect', () => resolve());
          sock.once('error', reject);
        });
        replies = replyReader(sock);
        secure = true;
        cmd('EHLO client.bench.localdomain');
        ehlo = await expect(250, 'EHLO after STARTTLS');
      }
      if (auth) {
        cmd(`AUTH PLAIN ${Buffer.from(`\0${auth.user}\0${auth.pass}`).toString('base64')}`);
        await expect(235, 'AUTH');
      }
      return new SmtpSession(sock, replies, secure);
    } catch (e) {
      sock.destroy();
      throw e;
    }
  }

  /** One transaction; resolves with the final reply (250 when accepted). */
  async send(m: SmtpMessage): Promise<{ code: number; text: string }> {
    const step = async (line: string, want: number) => {
      this.sock.write(`${line}\r\n`);
      const r = await this.replies.next();
      return r.code === want ? null : r;
    };
    const refused = (await step(`MAIL FROM:<${m.from}>`, 250)) ?? (await step(`RCPT TO:<${m.to}>`, 250)) ?? (await step('DATA', 354));
    if (refused) {
      if (refused.code !== 354) await step('RSET', 250).catch(() => null);
      return refused;
    }
    // RFC 5321 §4.5.2: a line that starts with a dot gets one more.
    const body = m.raw.replace(/(^|\r\n)\./g, '$1..');
    this.sock.write(`${body}${body.endsWith('\r\n') ? '' : '\r\n'}.\r\n`);
    return this.replies.next();
  }

  close(): void {
    this.sock.write('QUIT\r\n');
    this.sock.end();
    setTimeout(() => this.sock.destroy(), 1000).unref();
  }
}

/** Sends `n` messages (`message(i)` for i in offset…offset+n-1) over `sessions` concurrent connections. */
export async function injectSmtp(opts: {
  port: number;
  auth?: { user: string; pass: string };
  sessions: number;
  n: number;
  offset: number;
  message: (i: number) => SmtpMessage;
  domains: string[];
}): Promise<SmtpLoadResult> {
  const out: SmtpLoadResult = {
    accepted: Object.fromEntries(opts.domains.map((d) => [d, 0])),
    refused: 0,
    problems: [],
    latencies: [],
    tls: false,
    t0: wallNow(),
    t1: 0,
  };
  const problem = (s: string) => {
    if (out.problems.length < 5) out.problems.push(s);
  };
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.max(1, opts.sessions) }, async () => {
      let session: SmtpSession | null = null;
      for (let reopened = 0, i = next++; i < opts.n; i = next++) {
        const m = opts.message(opts.offset + i);
        try {
          session ??= await SmtpSession.open(opts.port, opts.auth);
          out.tls ||= session.tls;
          const s = performance.now();
          const r = await session.send(m);
          out.latencies.push(performance.now() - s);
          if (r.code === 250) {
            const d = m.to.slice(m.to.lastIndexOf('@') + 1);
            out.accepted[d] = (out.accepted[d] ?? 0) + 1;
          } else {
            out.refused++;
            problem(r.text);
            if (r.code === 421) session = null;
          }
        } catch (e) {
          out.refused++;
          problem((e as Error).message);
          session = null;
          if (++reopened > 50) break;
        }
      }
      session?.close();
    }),
  );
  out.t1 = wallNow();
  out.latencies.sort((a, b) => a - b);
  return out;
}
