import assert from 'node:assert/strict';
import { connect as netConnect, type Socket } from 'node:net';
import type { TestContext } from 'node:test';
import { connect as tlsConnect } from 'node:tls';

/**
 * A raw SMTP client for tests where the exact reply line matters: one reply per read (multi-line
 * replies joined by \n), optional source address (loopback has all of 127.0.0.0/8, so a test can be
 * a second client address), destroyed after the test.
 */
export interface RawSmtp {
  /** Sends one line and reads one reply. */
  command(line: string): Promise<string>;
  write(text: string): void;
  read(timeoutMs?: number): Promise<string>;
  /** STARTTLS (must answer 220), then TLS over the same connection trusting `ca`. */
  starttls(ca: string): Promise<void>;
  /** Resolves when the connection has closed. */
  closed: Promise<void>;
  /** The TCP connection (under TLS after starttls); destroying it ends the session. */
  socket: Socket;
}

export async function rawSmtp(t: TestContext, port: number, opts: { localAddress?: string } = {}): Promise<RawSmtp> {
  const socket = netConnect({ host: '127.0.0.1', port, ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) });
  t.after(() => {
    socket.destroy();
  });
  let buffer = '';
  let wake: (() => void) | undefined;
  const onData = (d: Buffer) => {
    buffer += d.toString('utf8');
    wake?.();
  };
  socket.on('data', onData);
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));

  async function read(timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      // A reply ends at the line whose code is followed by a space (RFC 5321 §4.2.1).
      const m = /^(?:\d{3}-[^\n]*\n)*\d{3}(?: [^\n]*)?\r?\n/.exec(buffer);
      if (m) {
        buffer = buffer.slice(m[0].length);
        return m[0].replace(/\r\n/g, '\n').trimEnd();
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no complete reply within ${timeoutMs} ms; have ${JSON.stringify(buffer)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = undefined;
    }
  }

  let session: Socket = socket;
  const raw: RawSmtp = {
    socket,
    closed,
    read,
    write: (text) => session.write(text),
    async command(line) {
      session.write(`${line}\r\n`);
      return read();
    },
    async starttls(ca) {
      assert.match(await raw.command('STARTTLS'), /^220 /);
      socket.off('data', onData);
      const secure = tlsConnect({ socket, ca: [ca], servername: 'localhost' });
      await new Promise<void>((resolve, reject) => secure.once('secureConnect', resolve).once('error', reject));
      secure.on('data', onData);
      session = secure;
    },
  };
  return raw;
}

/**
 * Opens `count` silent connections from 127.0.0.1 (in batches, so the listen backlog is not the
 * limit) and resolves with the first line each one heard, or '' for a connection closed unheard.
 * Every socket is destroyed after the test.
 */
export async function idleConnections(t: TestContext, port: number, count: number): Promise<{ sockets: Socket[]; first: string[] }> {
  const sockets: Socket[] = [];
  t.after(() => {
    for (const s of sockets) s.destroy();
  });
  const first: string[] = [];
  const BATCH = 100;
  for (let i = 0; i < count; i += BATCH) {
    const batch = Array.from({ length: Math.min(BATCH, count - i) }, () => {
      const socket = netConnect({ host: '127.0.0.1', port });
      sockets.push(socket);
      socket.on('error', () => undefined);
      return new Promise<string>((resolve) => {
        let text = '';
        const timer = setTimeout(() => resolve(text), 10_000);
        socket.on('data', (d: Buffer) => {
          text += d.toString('utf8');
          const nl = text.indexOf('\n');
          if (nl >= 0) {
            clearTimeout(timer);
            resolve(text.slice(0, nl).trimEnd());
          }
        });
        socket.once('close', () => {
          clearTimeout(timer);
          resolve(text.trimEnd());
        });
      });
    });
    first.push(...(await Promise.all(batch)));
  }
  return { sockets, first };
}
