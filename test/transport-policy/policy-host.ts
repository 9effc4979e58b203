/**
 * A loopback HTTPS server standing in for `mta-sts.<domain>`: it serves with the certificate a test
 * chooses, answers with a replaceable responder, and records each request with the SNI name it came
 * with. It listens on 127.0.0.1:0 and closes through `t.after`.
 */

import type { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';
import type { TLSSocket } from 'node:tls';

export type Responder = (req: IncomingMessage, res: ServerResponse) => void;

export interface PolicyHost {
  port: number;
  requests: Array<{ url: string; host: string | undefined; servername: string | false | null }>;
  respond: Responder;
  /** Serve this policy text with `text/plain` for the well-known path, 404 elsewhere. */
  servePolicy(text: string): void;
}

export async function startPolicyHost(t: TestContext, tls: { cert: string; key: string }): Promise<PolicyHost> {
  const host: PolicyHost = {
    port: 0,
    requests: [],
    respond: (_req, res) => {
      res.writeHead(404).end();
    },
    servePolicy(text) {
      host.respond = (req, res) => {
        if (req.url !== '/.well-known/mta-sts.txt') {
          res.writeHead(404).end();
          return;
        }
        res.writeHead(200, { 'content-type': 'text/plain' }).end(text);
      };
    },
  };
  const sockets = new Set<TLSSocket>();
  const server = https.createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
    host.requests.push({ url: req.url ?? '', host: req.headers.host, servername: (req.socket as TLSSocket).servername });
    host.respond(req, res);
  });
  server.on('secureConnection', (s: TLSSocket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  // A failed handshake (the client rejecting our certificate) is expected in tests, not an error.
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  host.port = (server.address() as AddressInfo).port;
  t.after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return host;
}
