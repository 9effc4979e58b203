import { X509Certificate } from 'node:crypto';
import type { DetailedPeerCertificate, TLSSocket } from 'node:tls';
import type { TlsRptResultType } from '../core/index.js';
import { type DaneResult, evaluateDane } from './dane.js';
import type { TenantTlsPolicy, TlsDecision, TlsPolicySource, TlsVerification } from './tls-policy.js';

/**
 * After STARTTLS (or after the server declined it), may we send? `checkTlsOutcome` compares what was
 * observed on the wire with the decision for that MX host. `ok: false` means: abort the session
 * before MAIL FROM and defer; never fall back to plaintext. Every answer carries evidence for the
 * attempt record and, through `resultType`, the RFC 8460 §4.3 category for TLS-RPT. An MTA-STS policy
 * in `testing` mode never blocks; what it would have blocked is recorded in `evidence.testing`.
 */

export interface ObservedTls {
  /** A TLS session was established (STARTTLS offered and the handshake completed). */
  tls: boolean;
  /** `tlsSocket.getProtocol()`, e.g. `TLSv1.3`. */
  protocol?: string | null;
  cipher?: string;
  /** `tlsSocket.authorized` from a handshake made with `servername` = the MX host. */
  authorized?: boolean;
  /** `tlsSocket.authorizationError` (Node gives the error code as a string). */
  authorizationError?: string | Error | null;
  /** DER certificates as presented, leaf first. */
  chain?: readonly Buffer[];
  /** The MX host name the connection was made for. */
  hostname: string;
}

export interface TlsEvidence {
  mxHost: string;
  policy: {
    requireTls: boolean;
    verify: TlsVerification;
    minVersion?: string;
    source: TlsPolicySource;
    tenantPolicy: TenantTlsPolicy;
    mtaStsId?: string;
    mtaStsMode?: string;
    dane?: 'usable' | 'unusable';
  };
  tls: boolean;
  protocol?: string;
  cipher?: string;
  /** SHA-256 of the leaf certificate, colon-separated hex as Node prints it. */
  certificateSha256?: string;
  pkix?: { authorized: boolean; error?: string };
  dane?: Pick<DaneResult, 'status' | 'matched' | 'reasons'>;
  /** What an MTA-STS `testing` policy would have decided. */
  testing?: { mtaStsId: string; wouldFail: boolean; reason?: string; resultType?: TlsRptResultType };
}

export interface TlsOutcome {
  ok: boolean;
  reason?: string;
  resultType?: TlsRptResultType;
  evidence: TlsEvidence;
}

const OLD_PROTOCOLS = new Set(['SSLv2', 'SSLv3', 'TLSv1', 'TLSv1.1']);

export function checkTlsOutcome(decision: TlsDecision, observed: ObservedTls, opts: { now: number }): TlsOutcome {
  const evidence = baseEvidence(decision, observed);
  const fail = (reason: string, resultType?: TlsRptResultType): TlsOutcome => ({
    ok: false,
    reason,
    ...(resultType ? { resultType } : {}),
    evidence,
  });

  if (!decision.eligible) return fail(`MX host not eligible: ${decision.skipReason ?? 'policy'}`);

  const pkixError = pkixProblem(observed);
  if (observed.tls && (observed.authorized !== undefined || observed.authorizationError)) {
    evidence.pkix = { authorized: pkixError === null, ...(pkixError ? { error: pkixError.message } : {}) };
  }
  const testing = decision.testingOnly?.mtaSts;
  if (testing) {
    const would = !testing.mxMatches
      ? { message: `MX host matches no mx pattern of policy ${testing.id}`, resultType: 'validation-failure' as const }
      : pkixError;
    evidence.testing = {
      mtaStsId: testing.id,
      wouldFail: would !== null,
      ...(would ? { reason: would.message, resultType: would.resultType } : {}),
    };
  }

  if (!observed.tls) {
    if (decision.requireTls) {
      return fail(`TLS required by ${decision.source} policy but not negotiated; not sending in clear`, 'starttls-not-supported');
    }
    return { ok: true, evidence };
  }
  if (decision.minVersion && observed.protocol && OLD_PROTOCOLS.has(observed.protocol)) {
    const why = `${observed.protocol} negotiated; ${decision.source} policy requires ${decision.minVersion} or later`;
    return fail(why, 'validation-failure');
  }

  switch (decision.verify) {
    case 'none':
      return { ok: true, evidence };
    case 'pkix':
      if (pkixError) return fail(`certificate not valid for ${observed.hostname}: ${pkixError.message}`, pkixError.resultType);
      return { ok: true, evidence };
    case 'dane': {
      const result = evaluateDane({
        tlsa: decision.dane?.tlsa ?? [],
        secure: true,
        chain: observed.chain ?? [],
        hostname: decision.servername,
        now: opts.now,
      });
      evidence.dane = { status: result.status, ...(result.matched ? { matched: result.matched } : {}), reasons: result.reasons };
      if (result.status === 'match') return { ok: true, evidence };
      return fail(`DANE authentication failed: ${result.reasons[result.reasons.length - 1] ?? result.status}`, 'validation-failure');
    }
    default: {
      const never: never = decision.verify;
      return never;
    }
  }
}

/**
 * Reads what the handshake established from a connected TLS socket (made with `servername` set to the
 * MX host and `rejectUnauthorized: false`, so that the policy, not the socket, decides).
 */
export function observeTlsSocket(socket: TLSSocket, hostname: string): ObservedTls {
  const chain: Buffer[] = [];
  let cert: DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
  // Walk issuer links; a self-signed certificate links to itself. Bounded like any chain we accept.
  for (let i = 0; i < 10 && cert?.raw; i++) {
    chain.push(cert.raw);
    if (!cert.issuerCertificate || cert.issuerCertificate === cert || cert.issuerCertificate.raw?.equals(cert.raw)) break;
    cert = cert.issuerCertificate;
  }
  const observed: ObservedTls = {
    tls: true,
    protocol: socket.getProtocol(),
    authorized: socket.authorized,
    chain,
    hostname,
  };
  const cipher = socket.getCipher()?.name;
  if (cipher) observed.cipher = cipher;
  if (socket.authorizationError) observed.authorizationError = socket.authorizationError;
  return observed;
}

function baseEvidence(decision: TlsDecision, observed: ObservedTls): TlsEvidence {
  const evidence: TlsEvidence = {
    mxHost: decision.mxHost,
    policy: {
      requireTls: decision.requireTls,
      verify: decision.verify,
      source: decision.source,
      tenantPolicy: decision.tenantPolicy,
      ...(decision.minVersion ? { minVersion: decision.minVersion } : {}),
      ...(decision.mtaSts ? { mtaStsId: decision.mtaSts.id, mtaStsMode: decision.mtaSts.mode } : {}),
      ...(decision.dane ? { dane: decision.dane.status } : {}),
    },
    tls: observed.tls,
  };
  if (observed.tls) {
    if (observed.protocol) evidence.protocol = observed.protocol;
    if (observed.cipher) evidence.cipher = observed.cipher;
    const leaf = observed.chain?.[0];
    if (leaf) {
      try {
        evidence.certificateSha256 = parsedLeaf(leaf).fingerprint;
      } catch {
        // An unparseable leaf is recorded as absent; verification below fails on it anyway.
      }
    }
  }
  return evidence;
}

/**
 * A pooled connection carries many messages and each attempt's evidence reads its leaf certificate:
 * parse it once per certificate (the Buffer a session holds), not once per message. In profiles the
 * parse alone was a tenth of the delivery thread.
 */
const parsed = new WeakMap<Buffer, { cert: X509Certificate; fingerprint: string; hosts: Map<string, string | undefined> }>();
function parsedLeaf(leaf: Buffer) {
  let p = parsed.get(leaf);
  if (!p) {
    const cert = new X509Certificate(leaf);
    p = { cert, fingerprint: cert.fingerprint256, hosts: new Map() };
    parsed.set(leaf, p);
  }
  return p;
}
function hostCheck(leaf: Buffer, hostname: string): string | undefined {
  const p = parsedLeaf(leaf);
  if (!p.hosts.has(hostname)) {
    p.hosts.set(
      hostname,
      p.cert.checkHost(hostname, { subject: 'default', wildcards: true, partialWildcards: false, multiLabelWildcards: false }),
    );
  }
  return p.hosts.get(hostname);
}

/** PKIX verdict from the handshake, plus our own name check on the leaf as a second look. */
function pkixProblem(observed: ObservedTls): { message: string; resultType: TlsRptResultType } | null {
  if (!observed.tls) return { message: 'no TLS session', resultType: 'starttls-not-supported' };
  if (observed.authorized !== true) {
    const code = errorCode(observed.authorizationError) ?? 'not authorized';
    return { message: code, resultType: resultTypeForCertError(code) };
  }
  const leaf = observed.chain?.[0];
  if (leaf) {
    let names: string | undefined;
    try {
      names = hostCheck(leaf, observed.hostname.toLowerCase().replace(/\.$/, ''));
    } catch {
      return { message: 'unparseable leaf certificate', resultType: 'validation-failure' };
    }
    if (names === undefined) {
      return { message: `leaf certificate does not name ${observed.hostname}`, resultType: 'certificate-host-mismatch' };
    }
  }
  return null;
}

function errorCode(e: string | Error | null | undefined): string | undefined {
  if (!e) return undefined;
  if (typeof e === 'string') return e;
  return (e as Error & { code?: string }).code ?? e.message;
}

/** Maps Node/OpenSSL verification codes to RFC 8460 §4.3.2 certificate result types. */
export function resultTypeForCertError(code: string): TlsRptResultType {
  switch (code) {
    case 'CERT_HAS_EXPIRED':
    case 'CERT_NOT_YET_VALID':
      return 'certificate-expired';
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
    case 'HOSTNAME_MISMATCH':
      return 'certificate-host-mismatch';
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'UNABLE_TO_GET_ISSUER_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'CERT_UNTRUSTED':
    case 'CERT_REJECTED':
      return 'certificate-not-trusted';
    default:
      return 'validation-failure';
  }
}
