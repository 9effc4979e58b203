import type { TLSSocket } from 'node:tls';
import { Agent, buildConnector, request } from 'undici';
import { isPublicAddress, normaliseDomain } from '../core/index.js';
import type { Resolver } from '../dns/index.js';

/**
 * Fetches an MTA-STS policy over HTTPS (RFC 8461 §3.3). The fetcher is an interface so the cache and
 * the posture auditor can be tested with anything; the default one uses undici with:
 *  - PKIX validation of the certificate for `mta-sts.<domain>` (SNI and name check use that name even
 *    when the connection is steered elsewhere by `portMap`, which is how tests reach a loopback server);
 *  - no redirects ("HTTP 3xx redirects MUST NOT be followed"), only a 200 counts;
 *  - the `text/plain` media type (§3.2: senders SHOULD validate it);
 *  - a size cap (64 KiB by default) and one overall deadline covering connect, headers and body.
 * Every outcome is a value: failures say which step failed, for evidence and TLS-RPT.
 */

export interface PeerCertificateSummary {
  subject: string;
  issuer: string;
  subjectAltName?: string;
  validFrom: string;
  validTo: string;
  fingerprint256: string;
}

export type PolicyFetchFailure =
  | 'invalid-domain'
  | 'dns'
  | 'connect'
  | 'certificate'
  | 'tls'
  | 'redirect'
  | 'http-status'
  | 'content-type'
  | 'too-large'
  | 'timeout'
  | 'network';

export type FetchResult =
  | { ok: true; url: string; body: string; contentType: string; certificate?: PeerCertificateSummary }
  | {
      ok: false;
      url: string;
      failure: PolicyFetchFailure;
      message: string;
      status?: number;
      location?: string;
      contentType?: string;
      certificate?: PeerCertificateSummary;
    };

export type PolicyFetcher = (domain: string) => Promise<FetchResult>;

export interface ConnectTarget {
  host: string;
  port: number;
}

export interface HttpsPolicyFetcherOptions {
  /** Deadline for the whole fetch. RFC 8461 §3.3 suggests up to a minute; default 30 s. */
  timeoutMs?: number;
  /** Largest accepted body; default 64 KiB. */
  maxBytes?: number;
  /** Trust anchors (PEM). Default: Node's bundled root store. */
  ca?: string | Buffer | Array<string | Buffer>;
  /** Where to connect for a policy host (tests: `mta-sts.example.com` → 127.0.0.1:PORT). */
  portMap?: (host: string) => ConnectTarget | Promise<ConnectTarget>;
  /** Resolve the policy host through the configured DNS instead of the system resolver. */
  resolver?: Resolver;
  /** HTTPS port when not steered by `portMap`; 443 unless a test says otherwise. */
  port?: number;
  /**
   * Connect to private, loopback or link-local addresses a policy host resolves to. Off: a hostile
   * `mta-sts.<domain>` record must not make us probe our own network (tests turn it on).
   */
  allowPrivateAddresses?: boolean;
  /** Extra TLS options for the connection (e.g. `minVersion`); certificate checks cannot be turned off. */
  connect?: { minVersion?: 'TLSv1.2' | 'TLSv1.3'; ciphers?: string };
}

export const DEFAULT_MAX_POLICY_BYTES = 64 * 1024;

export function policyUrl(domain: string): string {
  return `https://mta-sts.${domain}/.well-known/mta-sts.txt`;
}

export function createHttpsPolicyFetcher(options: HttpsPolicyFetcherOptions = {}): PolicyFetcher {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_POLICY_BYTES;

  return async function fetchPolicy(input: string): Promise<FetchResult> {
    // The domain comes from recipients and audit requests: only a host name may reach the URL.
    const domain = policyDomain(input);
    const url = policyUrl(domain ?? input);
    const host = `mta-sts.${domain}`;
    const fail = (failure: PolicyFetchFailure, message: string, extra: Partial<FetchResult> = {}): FetchResult =>
      ({ ...extra, ok: false, url, failure, message }) as FetchResult;
    if (domain === null) return fail('invalid-domain', `"${input}" is not a domain name`);

    let target: ConnectTarget;
    try {
      const mapped = await targetFor(host, options);
      if (!mapped) return fail('dns', `${host} has no address`);
      target = mapped;
    } catch (e) {
      return fail('dns', `resolving ${host} failed: ${messageOf(e)}`);
    }

    let certificate: PeerCertificateSummary | undefined;
    let connectError: (Error & { code?: string }) | undefined;
    const base = buildConnector({
      ...(options.ca !== undefined ? { ca: options.ca } : {}),
      minVersion: options.connect?.minVersion ?? 'TLSv1.2',
      ...(options.connect?.ciphers ? { ciphers: options.connect.ciphers } : {}),
      rejectUnauthorized: true,
      maxCachedSessions: 0,
      timeout: timeoutMs,
    });
    const agent = new Agent({
      connections: 1,
      pipelining: 0,
      connect(opts, callback) {
        // Steer the TCP connection, but keep SNI and the certificate name check on the policy host.
        base({ ...opts, hostname: target.host, port: String(target.port), servername: host }, (err, socket) => {
          if (err || !socket) {
            connectError = err ?? new Error('no socket');
            callback(connectError, null);
            return;
          }
          certificate = summarise(socket as TLSSocket);
          callback(null, socket);
        });
      },
    });
    const deadline = AbortSignal.timeout(timeoutMs);
    try {
      const res = await request(url, {
        method: 'GET',
        dispatcher: agent,
        signal: deadline,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        // RFC 8461 §3.3: HTTP caching MUST NOT be used.
        headers: { accept: 'text/plain', 'cache-control': 'no-cache', 'user-agent': 'postwarden-mta-sts' },
      });
      const contentType = headerOf(res.headers['content-type']);
      const withCert = certificate ? { certificate } : {};
      if (res.statusCode >= 300 && res.statusCode < 400) {
        await res.body.dump();
        const location = headerOf(res.headers.location);
        return fail('redirect', `HTTP ${res.statusCode} redirect not followed (RFC 8461 §3.3)`, {
          status: res.statusCode,
          ...(location ? { location } : {}),
          ...withCert,
        });
      }
      if (res.statusCode !== 200) {
        await res.body.dump();
        return fail('http-status', `HTTP ${res.statusCode}; only 200 is a policy (RFC 8461 §3.3)`, {
          status: res.statusCode,
          ...withCert,
        });
      }
      if (!isTextPlain(contentType)) {
        await res.body.dump();
        return fail('content-type', `media type "${contentType ?? '(none)'}" is not text/plain (RFC 8461 §3.2)`, {
          status: 200,
          ...(contentType ? { contentType } : {}),
          ...withCert,
        });
      }
      const declared = Number(headerOf(res.headers['content-length']) ?? NaN);
      if (Number.isFinite(declared) && declared > maxBytes) {
        res.body.destroy();
        return fail('too-large', `policy of ${declared} bytes exceeds ${maxBytes}`, { status: 200, ...withCert });
      }
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of res.body) {
        size += (chunk as Buffer).length;
        if (size > maxBytes) {
          res.body.destroy();
          return fail('too-large', `policy exceeds ${maxBytes} bytes`, { status: 200, ...withCert });
        }
        chunks.push(chunk as Buffer);
      }
      return { ok: true, url, body: Buffer.concat(chunks).toString('utf8'), contentType, ...withCert };
    } catch (e) {
      if (deadline.aborted) return fail('timeout', `no complete policy within ${timeoutMs} ms`);
      return classify(connectError ?? (e as Error & { code?: string }), fail, certificate);
    } finally {
      agent.destroy().catch(() => undefined);
    }
  };
}

async function targetFor(host: string, options: HttpsPolicyFetcherOptions): Promise<ConnectTarget | null> {
  if (options.portMap) return options.portMap(host);
  const port = options.port ?? 443;
  if (!options.resolver) return { host, port };
  for (const type of ['A', 'AAAA'] as const) {
    const r = await options.resolver.lookup(host, type);
    const first = r.kind === 'answer' ? r.records[0] : undefined;
    if (first && !options.allowPrivateAddresses && !isPublicAddress(first)) {
      throw new Error(`${host} resolves to ${first}, which is not a public address`);
    }
    if (first) return { host: first, port };
    if (r.kind === 'error') throw new Error(`${type} lookup: ${r.failure} ${r.message}`);
  }
  return null;
}

// Node TLS error codes meaning "the certificate does not validate" (chain, name or dates).
const CERT_CODES = new Set([
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'INVALID_CA',
  'HOSTNAME_MISMATCH',
]);

function classify(
  e: Error & { code?: string },
  fail: (f: PolicyFetchFailure, m: string, extra?: Partial<FetchResult>) => FetchResult,
  certificate: PeerCertificateSummary | undefined,
): FetchResult {
  const code = e.code ?? '';
  const extra = certificate ? { certificate } : {};
  if (CERT_CODES.has(code)) return fail('certificate', `certificate rejected: ${code} ${e.message}`, extra);
  if (code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
    return fail('timeout', `${code}: ${e.message}`, extra);
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return fail('dns', `${code}: ${e.message}`, extra);
  if (code === 'ECONNREFUSED' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH') {
    return fail('connect', `${code}: ${e.message}`, extra);
  }
  if (code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS') || /SSL|TLS/i.test(e.message)) {
    return fail('tls', `${code || 'TLS'}: ${e.message}`, extra);
  }
  return fail('network', `${code || e.name}: ${e.message}`, extra);
}

function summarise(socket: TLSSocket): PeerCertificateSummary | undefined {
  const c = socket.getPeerCertificate();
  if (!c?.fingerprint256) return undefined;
  return {
    subject: formatName(c.subject),
    issuer: formatName(c.issuer),
    ...(c.subjectaltname ? { subjectAltName: c.subjectaltname } : {}),
    validFrom: new Date(c.valid_from).toISOString(),
    validTo: new Date(c.valid_to).toISOString(),
    fingerprint256: c.fingerprint256,
  };
}

function formatName(name: object | undefined): string {
  if (!name) return '';
  return Object.entries(name)
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('+') : String(v)}`)
    .join(', ');
}

function headerOf(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Letters, digits, dots and hyphens only, then core's normalisation. The character check comes first
 * because `domainToASCII` (under `normaliseDomain`) parses like a URL host and would quietly cut
 * `example.com/x?` down to `example.com`.
 */
function policyDomain(input: string): string | null {
  if (!/^[\p{L}\p{N}.-]+$/u.test(input)) return null;
  return normaliseDomain(input);
}

/** `text/plain` with any parameters, compared case-insensitively (RFC 9110 §8.3.1). */
export function isTextPlain(contentType: string | undefined): contentType is string {
  if (!contentType) return false;
  const [mediaType = ''] = contentType.split(';');
  return mediaType.trim().toLowerCase() === 'text/plain';
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
