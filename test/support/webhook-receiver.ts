import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';
import { Webhook } from 'standardwebhooks';
import type { Clock } from '../../src/core/index.js';

/**
 * A loopback webhook receiver that verifies every POST with the `standardwebhooks` package, an
 * implementation independent of ours. It records what came, in arrival order, with which of its
 * secrets verified the signature. `answer` decides the status per request (default 200).
 *
 * standardwebhooks checks `webhook-timestamp` against Date.now() (±5 min); with a fake clock the
 * platform signs in fake time, so the check runs with Date.now pinned to the test clock for the
 * duration of the (synchronous) verify call.
 */
export interface Received {
  webhookId: string;
  timestamp: number;
  body: unknown;
  raw: string;
  /** Indexes into `secrets` of the secrets that verified it (empty: none did). */
  verifiedBy: number[];
  status: number;
}

export interface WebhookReceiver {
  url: string;
  received: Received[];
  /** The secrets tried, in order; a test adds the new one after a rotation. */
  secrets: string[];
  answer: (req: IncomingMessage, body: string) => number;
  /** Milliseconds each answer waits (keeps POSTs in flight, e.g. for a kill). */
  delayMs: number;
  /** Only the POSTs answered 2xx. */
  accepted(): Received[];
}

export async function startWebhookReceiver(t: TestContext, opts: { clock?: Clock } = {}): Promise<WebhookReceiver> {
  const receiver: WebhookReceiver = {
    url: '',
    received: [],
    secrets: [],
    answer: () => 200,
    delayMs: 0,
    accepted: () => receiver.received.filter((r) => r.status >= 200 && r.status < 300),
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const headers = {
        'webhook-id': String(req.headers['webhook-id'] ?? ''),
        'webhook-timestamp': String(req.headers['webhook-timestamp'] ?? ''),
        'webhook-signature': String(req.headers['webhook-signature'] ?? ''),
      };
      const verifiedBy: number[] = [];
      receiver.secrets.forEach((secret, i) => {
        const realNow = Date.now;
        if (opts.clock) Date.now = () => opts.clock!.now();
        try {
          new Webhook(secret).verify(raw, headers);
          verifiedBy.push(i);
        } catch {
          /* not signed with this secret */
        } finally {
          Date.now = realNow;
        }
      });
      const status = receiver.answer(req, raw);
      receiver.received.push({
        webhookId: headers['webhook-id'],
        timestamp: Number(headers['webhook-timestamp']),
        body: raw ? JSON.parse(raw) : null,
        raw,
        verifiedBy,
        status,
      });
      const reply = () => {
        res.writeHead(status, { 'content-type': 'text/plain' });
        res.end(status < 300 ? 'ok' : 'receiver says no');
      };
      if (receiver.delayMs > 0) setTimeout(reply, receiver.delayMs);
      else reply();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
  t.after(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return receiver;
}
