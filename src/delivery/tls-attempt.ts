import type { TlsAttemptRow } from '../store/index.js';
import { checkTlsOutcome, type ObservedTls, type TlsDecision } from '../transport-policy/index.js';
import type { SessionEvidence } from './session.js';
import type { DomainTlsPlan } from './tls-planner.js';

/**
 * The TLS evidence of one attempt, in two shapes: the `tls` object of the attempt's event data (what
 * an auditor reads per recipient) and the `tls_attempts` row (what statistics and TLS-RPT count).
 * Pure: built from the plan's decision for the host and what the session saw on the wire.
 */

/** A `tls_attempts` row before the deliverer knows the recipient's outcome and ids. */
export type TlsAttemptInput = Omit<TlsAttemptRow, 'id' | 'tenantId' | 'messageId' | 'recipientId' | 'at' | 'outcome'> & {
  /** Set for a session refused on one host while the recipient went on to the next. */
  outcome?: 'skipped';
};

export interface DescribedAttempt {
  attempt: TlsAttemptInput;
  json: Record<string, unknown>;
}

export function describeAttempt(input: {
  plan: DomainTlsPlan;
  decision: TlsDecision;
  sessionId: string;
  evidence?: SessionEvidence;
  observed?: ObservedTls;
  /** The open failed: its stage and error. */
  failure?: { stage: string; error: string };
  now: number;
}): DescribedAttempt {
  const { plan, decision } = input;
  const observed: ObservedTls = input.observed ?? { tls: input.evidence?.tls != null, hostname: decision.servername };
  const checked = checkTlsOutcome(decision, observed, { now: input.now });
  const tlsEv = input.evidence?.tls ?? null;
  const negotiated = tlsEv !== null;
  const verification = !negotiated
    ? 'none'
    : tlsEv.dane
      ? tlsEv.dane.ok
        ? 'dane-valid'
        : `dane-invalid: ${tlsEv.dane.reason ?? 'no TLSA record matched'}`
      : tlsEv.authorized
        ? 'pkix-valid'
        : `pkix-invalid: ${tlsEv.authorizationError ?? 'not authorized'}`;
  const verified = verification === 'pkix-valid' || verification === 'dane-valid';
  const enforcedBy = decision.dane && decision.requireTls ? 'dane' : decision.allowedMx ? 'mta-sts' : null;
  const mode = !decision.requireTls
    ? 'opportunistic'
    : decision.verify === 'none'
      ? 'required'
      : decision.verify === 'pkix'
        ? 'verify-pkix'
        : 'dane';

  // RFC 8460 §4.3: the result of this session. A refused session gives the failure; a testing-mode
  // policy that would have refused it gives the would-be failure; a policy that could not be fetched
  // is a discovery failure even when the session went well.
  let rptResult: string | null = null;
  let rptReason: string | null = null;
  if (input.failure?.stage === 'tls-policy') {
    rptResult = /^STARTTLS failed/.test(input.failure.error) ? 'validation-failure' : (checked.resultType ?? 'validation-failure');
    rptReason = input.failure.error;
  } else if (!input.failure && checked.evidence.testing?.wouldFail) {
    rptResult = checked.evidence.testing.resultType ?? 'validation-failure';
    rptReason = `testing mode, delivered anyway: ${checked.evidence.testing.reason ?? ''}`.trim();
  } else if (!input.failure && plan.rpt.discoveryFailure) {
    rptResult = plan.rpt.discoveryFailure.resultType;
    rptReason = plan.rpt.discoveryFailure.reason;
  }

  const attempt: TlsAttemptInput = {
    domain: plan.domain,
    stream: plan.stream,
    sessionId: input.sessionId,
    mxHost: decision.mxHost,
    ip: input.evidence?.address || null,
    tls: negotiated,
    verified,
    enforcedBy,
    policySource: decision.source,
    policyMode: mode,
    tenantPolicy: decision.tenantPolicy,
    mtaStsId: decision.mtaSts?.id ?? null,
    mtaStsMode: decision.mtaSts?.mode ?? null,
    dane: decision.dane?.status ?? null,
    tlsVersion: tlsEv?.version ?? null,
    cipher: tlsEv?.cipher ?? null,
    certSha256: tlsEv?.peerCertSha256 ?? null,
    verification,
    rptPolicyType: plan.rpt.type,
    rptPolicyString: plan.rpt.strings,
    rptMxPatterns: plan.rpt.mxPatterns,
    rptResult,
    rptReason,
  };
  const json: Record<string, unknown> = {
    policy: {
      mode,
      source: decision.source,
      tenant_policy: decision.tenantPolicy,
      min_version: decision.minVersion ?? null,
      mta_sts: decision.mtaSts ? { id: decision.mtaSts.id, mode: decision.mtaSts.mode, mx_matches: decision.mtaSts.mxMatches } : null,
      dane: decision.dane?.status ?? null,
      enforced_by: enforcedBy,
    },
    negotiated,
    version: tlsEv?.version ?? null,
    cipher: tlsEv?.cipher ?? null,
    cert_sha256: tlsEv?.peerCertSha256 ?? null,
    verification,
    verified,
    authorized: tlsEv?.authorized ?? false,
    error: tlsEv?.authorizationError ?? null,
    ...(checked.evidence.testing ? { testing: checked.evidence.testing } : {}),
    ...(rptResult ? { result_type: rptResult } : {}),
    reasons: decision.reasons,
  };
  return { attempt, json };
}

/** The attempt of a host that the plan left out (MTA-STS mismatch, failed TLSA lookup): no session. */
export function describeSkipped(plan: DomainTlsPlan, decision: TlsDecision, sessionId: string): DescribedAttempt {
  const described = describeAttempt({ plan, decision: { ...decision, eligible: true }, sessionId, now: 0 });
  const dnssec = decision.skipReason?.includes('TLSA lookup') === true;
  described.attempt.rptResult = dnssec ? 'dnssec-invalid' : 'validation-failure';
  described.attempt.rptReason = decision.skipReason ?? 'MX host not eligible';
  described.json.result_type = described.attempt.rptResult;
  described.json.skipped = decision.skipReason ?? 'MX host not eligible';
  return described;
}
