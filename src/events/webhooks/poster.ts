import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import { Agent, request } from 'undici';
import { isPublicAddress } from '../../core/index.js';

/**
 * The HTTP side of webhook delivery: one POST with a deadline, the status, the latency and the first
 * kilobyte of the answer, never an exception.
 *
 * Only public addresses are called (SSRF: an endpoint URL must not make the platform probe its own
 * network, core/public-address.ts). The check sits in the socket's DNS lookup, so the address
 * connected to is the one checked (no rebinding between check and connect); literal IPs in the URL
 * are checked before. `allowPrivateTargets` (webhooks.allowPrivateTargets) lifts it for tests and labs.
 * Redirects are not followed: a 3xx is a failed attempt like any other non-2xx.
 */
export interface PostResult {
  ok: boolean;
  status: number | null;
  latencyMs: number;
  /** At most 1 KB of the response body, as text. */
  excerpt: string | null;
  error: string | null;
}

export interface Poster {
  post(url: string, headers: Record<string, string>, body: string): Promise<PostResult>;
  close(): Promise<void>;
}

const EXCERPT_BYTES = 1024;
/** Bytes of an answer read at most; beyond, the connection is dropped rather than read to the end. */
const READ_CAP = 64 * 1024;

/** Connections the client keeps per origin (undici pools by origin); the sender sends no more POSTs at once. */
export const CONNECTIONS_PER_ORIGIN = 16;

export class PrivateTargetError extends Error {}

/** Why a URL may not be used as an endpoint, or undefined when it may (checked at create and update). */
export function urlProblem(raw: string, allowPrivateTargets: boolean): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'is not a URL';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'must be an http: or https: URL';
  if (url.username || url.password) return 'must not carry credentials';
  const host = url.hostname.replace(/^\[|\]$/g, '').replace(/\.$/, '');
  if (!allowPrivateTargets && isIP(host) && !isPublicAddress(host)) return `points at ${host}, which is not a public address`;
  if (!allowPrivateTargets && (host === 'localhost' || host.endsWith('.localhost'))) return 'points at localhost';
  return undefined;
}

export function createPoster(opts: { timeoutMs: number; allowPrivateTargets: boolean; connections?: number }): Poster {
  const guardedLookup = (
    hostname: string,
    options: object,
    cb: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
  ) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return cb(err, '', 0);
      const list = addresses as LookupAddress[];
      const blocked = opts.allowPrivateTargets ? undefined : list.find((a) => !isPublicAddress(a.address));
      if (blocked) return cb(new PrivateTargetError(`${hostname} resolves to ${blocked.address}, which is not a public address`), '', 0);
      if ((options as { all?: boolean }).all) return cb(null, list);
      const first = list[0]!;
      cb(null, first.address, first.family);
    });
  };
  // undici hands `connect` options to net/tls.connect, lookup included (typed narrower than it is).
  const agentOptions = {
    connect: { lookup: guardedLookup, timeout: opts.timeoutMs },
    headersTimeout: opts.timeoutMs,
    bodyTimeout: opts.timeoutMs,
    keepAliveTimeout: 30_000,
    connections: opts.connections ?? CONNECTIONS_PER_ORIGIN,
  } as unknown as Agent.Options;
  const agent = new Agent(agentOptions);
  /** Host names by URL: an endpoint's URL is parsed once, not at every POST. */
  const hosts = new Map<string, string>();
  const hostOf = (url: string): string => {
    let host = hosts.get(url);
    if (host === undefined) {
      try {
        host = new URL(url).hostname.replace(/^\[|\]$/g, '');
      } catch {
        host = '';
      }
      if (hosts.size > 10_000) hosts.clear();
      hosts.set(url, host);
    }
    return host;
  };

  return {
    async post(url, headers, body) {
      const started = performance.now();
      const latency = () => Math.round(performance.now() - started);
      const host = hostOf(url);
      if (!opts.allowPrivateTargets && isIP(host) && !isPublicAddress(host)) {
        return { ok: false, status: null, latencyMs: 0, excerpt: null, error: `${host} is not a public address` };
      }
      try {
        const res = await request(url, {
          method: 'POST',
          dispatcher: agent,
          headers: { 'content-type': 'application/json', 'user-agent': 'Postwarden-Webhooks/1', ...headers },
          body,
          signal: AbortSignal.timeout(opts.timeoutMs),
        });
        const chunks: Buffer[] = [];
        let size = 0;
        for await (const chunk of res.body) {
          const b = chunk as Buffer;
          if (size < EXCERPT_BYTES) chunks.push(b);
          size += b.length;
          if (size > READ_CAP) {
            res.body.destroy();
            break;
          }
        }
        const excerpt = size ? Buffer.concat(chunks).subarray(0, EXCERPT_BYTES).toString('utf8') : null;
        const ok = res.statusCode >= 200 && res.statusCode < 300;
        return { ok, status: res.statusCode, latencyMs: latency(), excerpt, error: ok ? null : `HTTP ${res.statusCode}` };
      } catch (e) {
        const err = e as Error & { cause?: Error };
        const message =
          err.cause instanceof PrivateTargetError
            ? err.cause.message
            : err.name === 'TimeoutError'
              ? `no answer within ${opts.timeoutMs} ms`
              : (err.cause?.message ?? err.message);
        return { ok: false, status: null, latencyMs: latency(), excerpt: null, error: message };
      }
    },
    close: () => agent.close(),
  };
}
