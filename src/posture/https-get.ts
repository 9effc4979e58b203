import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import { isPublicAddress } from '../core/index.js';
import type { Resolver } from '../dns/index.js';
import type { ConnectTarget } from '../transport-policy/index.js';

/**
 * A small HTTPS GET for audit targets other than MTA-STS policies (BIMI logos and mark
 * certificates): PKIX-validated, no redirects, a size cap and one deadline. The MTA-STS policy
 * fetch has its own fetcher in transport-policy, shared with delivery.
 */
export type HttpsGetResult =
  | { ok: true; status: number; contentType: string; body: Buffer; validTo?: string }
  | { ok: false; message: string; status?: number };

export type HttpsGetter = (url: string) => Promise<HttpsGetResult>;

export interface HttpsGetterOptions {
  ca?: string | Buffer | Array<string | Buffer>;
  /** Steer a host to a loopback port (tests); SNI and the name check keep the URL's host. */
  portMap?: (host: string) => ConnectTarget | undefined;
  /** Resolve hosts through the configured DNS (as every other audit lookup) instead of the system's. */
  resolver?: Resolver;
  timeoutMs?: number;
  maxBytes?: number;
}

export function createHttpsGetter(options: HttpsGetterOptions = {}): HttpsGetter {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const maxBytes = options.maxBytes ?? 512 * 1024;
  const get = httpsGet(options, timeoutMs, maxBytes);
  return async (raw) => {
    if (options.portMap || !options.resolver) return get(raw, undefined);
    let host: string;
    try {
      host = new URL(raw).hostname;
    } catch {
      return { ok: false, message: `"${raw}" is not a URL` };
    }
    const a = await options.resolver.lookup(host, 'A');
    const address = a.kind === 'answer' ? a.records[0] : undefined;
    if (!address) return { ok: false, message: `${host} has no address (${a.kind})` };
    // A published URL must not make the auditor probe the platform's own network (SSRF).
    if (!isPublicAddress(address)) return { ok: false, message: `${host} resolves to ${address}, which is not a public address` };
    return get(raw, address);
  };
}

function httpsGet(options: HttpsGetterOptions, timeoutMs: number, maxBytes: number) {
  return (raw: string, address: string | undefined): Promise<HttpsGetResult> =>
    new Promise((resolve) => {
      let url: URL;
      try {
        url = new URL(raw);
      } catch {
        resolve({ ok: false, message: `"${raw}" is not a URL` });
        return;
      }
      if (url.protocol !== 'https:') {
        resolve({ ok: false, message: `${url.protocol} is not https:` });
        return;
      }
      // Settles exactly once: on a complete body, a failure, a premature close, or the deadline,
      // whichever comes first. The deadline covers the whole exchange (connect, TLS, headers and
      // body), so a server trickling bytes cannot hold the caller (the posture monitor audits one
      // domain at a time) beyond timeoutMs.
      let settled = false;
      let deadline: NodeJS.Timeout | undefined;
      const finish = (result: HttpsGetResult) => {
        if (settled) return;
        settled = true;
        if (deadline) clearTimeout(deadline);
        resolve(result);
      };
      let responded = false;
      const target = options.portMap?.(url.hostname);
      const req = https.request(
        {
          host: target?.host ?? address ?? url.hostname,
          port: target?.port ?? (url.port ? Number(url.port) : 443),
          servername: url.hostname,
          path: url.pathname + url.search,
          method: 'GET',
          headers: { host: url.host },
          ...(options.ca !== undefined ? { ca: options.ca } : {}),
          rejectUnauthorized: true,
          agent: false,
        },
        (res) => {
          responded = true;
          const socket = res.socket as TLSSocket;
          const validTo = socket.getPeerCertificate?.()?.valid_to;
          const chunks: Buffer[] = [];
          let size = 0;
          const incomplete = (why: string) =>
            finish({ ok: false, message: `connection ${why} before the body was complete`, status: res.statusCode });
          res.on('data', (c: Buffer) => {
            if (settled) return;
            size += c.length;
            if (size > maxBytes) {
              finish({ ok: false, message: `body larger than ${maxBytes} bytes`, status: res.statusCode });
              req.destroy();
              return;
            }
            chunks.push(c);
          });
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            if (status !== 200) finish({ ok: false, message: `HTTP ${status}`, status });
            else
              finish({
                ok: true,
                status,
                contentType: String(res.headers['content-type'] ?? ''),
                body: Buffer.concat(chunks),
                ...(validTo ? { validTo } : {}),
              });
          });
          res.on('aborted', () => incomplete('closed'));
          res.on('error', (e) => incomplete(`failed (${e.message})`));
          res.on('close', () => {
            if (!res.complete) incomplete('closed');
          });
        },
      );
      deadline = setTimeout(() => {
        finish({ ok: false, message: `no complete answer within ${timeoutMs} ms` });
        req.destroy();
      }, timeoutMs);
      req.on('error', (e) => finish({ ok: false, message: e.message }));
      // Once a response has started its own listeners decide; before that a close is a failure.
      req.on('close', () => {
        if (!responded) finish({ ok: false, message: 'connection closed without an answer' });
      });
      req.end();
    });
}
