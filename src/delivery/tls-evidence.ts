import { createHash, X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { evaluateDane, type ObservedTls, observeTlsSocket, type TlsDecision } from '../transport-policy/index.js';

/**
 * What an outbound session's TLS looked like, and whether the session's TLS mode accepts it. The
 * transport-policy concern decides (per MX host) how TLS must be used; `sessionTlsFor` turns that
 * decision into the session's TLS options, and `judgeTls` is what the session runs between the
 * post-STARTTLS EHLO and MAIL FROM: nothing of the message leaves before it says yes.
 */

export type SessionTlsMode = 'opportunistic' | 'required' | 'verify-pkix' | 'dane';

export interface DaneVerdict {
  ok: boolean;
  reason?: string;
}

export interface SessionTlsOptions {
  mode: SessionTlsMode;
  /** SNI and the PKIX reference identifier: the MX host name (RFC 7672 §8.1 requires SNI with DANE). */
  servername: string;
  /** Trust anchors for `verify-pkix`; absent means Node's bundled root store. */
  ca?: string | Buffer | Array<string | Buffer>;
  minVersion?: 'TLSv1.2' | 'TLSv1.3';
  /** `dane` mode: checks the presented chain (DER, leaf first) against the TLSA records. */
  daneCheck?: (chain: readonly Buffer[]) => DaneVerdict;
}

export interface SessionTlsEvidence {
  /** `TLSv1.3` etc. */
  version: string | null;
  cipher: string | null;
  /** PKIX verdict of the handshake for `servername` (recorded in every mode, enforced in `verify-pkix`). */
  authorized: boolean;
  authorizationError: string | null;
  /** SHA-256 of the leaf certificate DER, lowercase hex. */
  peerCertSha256: string | null;
  /** SHA-256 of the leaf's SubjectPublicKeyInfo DER (what a `3 1 1` TLSA record holds), lowercase hex. */
  spkiSha256: string | null;
  servername: string;
  /** `dane` mode: the verdict of `daneCheck`. */
  dane?: DaneVerdict;
}

/** Reads the handshake result off a connected TLS socket (made with `rejectUnauthorized: false`). */
export function describeTls(socket: TLSSocket, servername: string): { evidence: SessionTlsEvidence; observed: ObservedTls } {
  const observed = observeTlsSocket(socket, servername);
  const leaf = observed.chain?.[0];
  let spkiSha256: string | null = null;
  if (leaf) {
    try {
      const spki = new X509Certificate(leaf).publicKey.export({ type: 'spki', format: 'der' });
      spkiSha256 = createHash('sha256').update(spki).digest('hex');
    } catch {
      // An unparseable leaf keeps a null SPKI hash; PKIX and DANE checks fail on it anyway.
    }
  }
  const authError = observed.authorizationError;
  return {
    observed,
    evidence: {
      version: observed.protocol ?? null,
      cipher: observed.cipher ?? null,
      authorized: observed.authorized === true,
      authorizationError: authError ? (typeof authError === 'string' ? authError : authError.message) : null,
      peerCertSha256: leaf ? createHash('sha256').update(leaf).digest('hex') : null,
      spkiSha256,
      servername,
    },
  };
}

/**
 * May the session carry mail, given its mode and what TLS it got? `observed.tls` false means the
 * session stayed in plaintext (no STARTTLS offered, or the opportunistic plaintext retry).
 */
export function judgeTls(tls: SessionTlsOptions, observed: ObservedTls, evidence: SessionTlsEvidence | null): DaneVerdict {
  if (tls.mode === 'opportunistic') return { ok: true };
  if (!observed.tls || !evidence) {
    return {
      ok: false,
      reason: `TLS is ${tls.mode === 'required' ? 'required' : `required (${tls.mode})`} but the server did not offer STARTTLS; not sending in clear`,
    };
  }
  switch (tls.mode) {
    case 'required':
      return { ok: true };
    case 'verify-pkix':
      // Node checked the chain against `ca` (or its root store) and the name against `servername`.
      if (evidence.authorized) return { ok: true };
      return { ok: false, reason: `certificate not valid for ${tls.servername}: ${evidence.authorizationError ?? 'not authorized'}` };
    case 'dane': {
      if (!tls.daneCheck) return { ok: false, reason: 'dane mode without a daneCheck' };
      const verdict = tls.daneCheck(observed.chain ?? []);
      evidence.dane = verdict;
      if (verdict.ok) return { ok: true };
      return { ok: false, reason: `DANE authentication failed: ${verdict.reason ?? 'no TLSA record matched'}` };
    }
    default: {
      const never: never = tls.mode;
      return never;
    }
  }
}

/**
 * The session TLS options that enforce a transport-policy decision. Only for eligible decisions
 * (`planMxTls` leaves the others out). `now` dates DANE-TA validity checks.
 */
export function sessionTlsFor(decision: TlsDecision, deps: { now: () => number; ca?: SessionTlsOptions['ca'] }): SessionTlsOptions {
  if (!decision.eligible) throw new RangeError(`MX host ${decision.mxHost} is not eligible: ${decision.skipReason ?? 'policy'}`);
  const base: SessionTlsOptions = { mode: 'opportunistic', servername: decision.servername };
  if (decision.minVersion) base.minVersion = decision.minVersion;
  if (deps.ca !== undefined) base.ca = deps.ca;
  if (!decision.requireTls) return base;
  switch (decision.verify) {
    case 'none':
      return { ...base, mode: 'required' };
    case 'pkix':
      return { ...base, mode: 'verify-pkix' };
    case 'dane': {
      const tlsa = decision.dane?.tlsa ?? [];
      return {
        ...base,
        mode: 'dane',
        daneCheck: (chain) => {
          const r = evaluateDane({ tlsa, secure: true, chain, hostname: decision.servername, now: deps.now() });
          const reason = r.reasons[r.reasons.length - 1];
          return { ok: r.status === 'match', ...(reason ? { reason } : {}) };
        },
      };
    }
    default: {
      const never: never = decision.verify;
      return never;
    }
  }
}
