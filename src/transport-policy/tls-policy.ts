import type { TlsaRecord } from '../dns/index.js';
import { usableTlsaRecords } from './dane.js';
import type { DaneState } from './dane-lookup.js';
import { type MtaStsMode, policyAllowsMx } from './mta-sts.js';
import type { MtaStsLookup } from './mta-sts-cache.js';

/**
 * One TLS decision per MX host, combining the tenant's (or stream's) policy with what the destination
 * publishes. Pure; table-tested. The rules:
 *  - The stricter requirement wins on each axis: is TLS mandatory, and how is the server verified.
 *  - DANE (a usable, DNSSEC-validated TLSA RRset) takes precedence over MTA-STS (RFC 8461 §2), and a
 *    failing DANE check is never overridden by MTA-STS. DANE authentication also satisfies a tenant's
 *    `verified`: the domain itself bound the certificate through DNSSEC, a stronger binding than the
 *    Web PKI.
 *  - A secure TLSA RRset with no usable record makes TLS mandatory without authentication (RFC 7672
 *    §2.2); a failed TLSA lookup for a signed host removes that host (RFC 7672 §2.2).
 *  - MTA-STS `enforce` removes MX hosts that match no `mx` pattern and requires PKIX-valid TLS for the
 *    others (RFC 8461 §4, §5); `testing` changes nothing but records what enforce would have done.
 *  - Any mandatory TLS means TLS 1.2 or later (the issue's `required`/`verified`; RFC 8461 §7.2; RFC 8996).
 */

export type TenantTlsPolicy = 'opportunistic' | 'required' | 'verified';
export type TlsVerification = 'none' | 'pkix' | 'dane';
export type TlsPolicySource = 'tenant' | 'mta-sts' | 'dane';

export interface TlsDecisionInput {
  mxHost: string;
  tenantPolicy: TenantTlsPolicy;
  /** The recipient domain's MTA-STS lookup; absent when not looked up. */
  mtaSts?: MtaStsLookup;
  /** DANE state of this MX host; absent when not looked up. */
  dane?: DaneState;
}

export interface MtaStsInForce {
  domain: string;
  id: string;
  mode: MtaStsMode;
  allowedMx: string[];
  mxMatches: boolean;
}

export interface TlsDecision {
  mxHost: string;
  /** False: do not connect to this MX host; `skipReason` says why. */
  eligible: boolean;
  skipReason?: string;
  requireTls: boolean;
  verify: TlsVerification;
  minVersion?: 'TLSv1.2';
  /** SNI and reference identifier: the MX host name (RFC 7672 §8.1 requires SNI with DANE). */
  servername: string;
  source: TlsPolicySource;
  tenantPolicy: TenantTlsPolicy;
  /** Patterns of an enforced MTA-STS policy. */
  allowedMx?: string[];
  /** The MTA-STS policy consulted (enforced or not), for evidence. */
  mtaSts?: MtaStsInForce;
  /** TLSA records to check the certificate against when `verify` is `dane`. */
  dane?: { status: 'usable' | 'unusable'; tlsa: TlsaRecord[] };
  /** What an MTA-STS `testing` policy would require, so the outcome can record would-be failures. */
  testingOnly?: { mtaSts: MtaStsInForce & { wouldRequire: { requireTls: true; verify: 'pkix' } } };
  reasons: string[];
}

const VERIFY_RANK: Record<TlsVerification, number> = { none: 0, pkix: 1, dane: 2 };

export function decideTls(input: TlsDecisionInput): TlsDecision {
  const { mxHost, tenantPolicy } = input;
  const reasons: string[] = [`tenant policy ${tenantPolicy}`];
  const skips: string[] = [];
  let requireTls = tenantPolicy !== 'opportunistic';
  let verify: TlsVerification = tenantPolicy === 'verified' ? 'pkix' : 'none';
  let source: TlsPolicySource = 'tenant';
  const decision: Partial<TlsDecision> = {};

  // Raise the requirement; the destination becomes the source when it is at least as strict.
  const raise = (by: 'mta-sts' | 'dane', tls: boolean, v: TlsVerification): void => {
    const currentStricter = VERIFY_RANK[verify] > VERIFY_RANK[v] || (requireTls && !tls);
    requireTls ||= tls;
    if (VERIFY_RANK[v] > VERIFY_RANK[verify]) verify = v;
    if (!currentStricter) source = by;
  };

  const dane = input.dane;
  let daneUsable = false;
  if (dane?.kind === 'failed') {
    skips.push(dane.reason);
    reasons.push(dane.reason);
  } else if (dane?.kind === 'secure' && dane.tlsa.length > 0) {
    const usable = usableTlsaRecords(dane.tlsa);
    if (usable.length > 0) {
      daneUsable = true;
      raise('dane', true, 'dane');
      decision.dane = { status: 'usable', tlsa: usable };
      reasons.push(`${usable.length} usable DNSSEC-validated TLSA record(s): TLS mandatory, authenticated by DANE (RFC 7672 §2.2)`);
    } else {
      decision.dane = { status: 'unusable', tlsa: dane.tlsa };
      raise('dane', true, 'none');
      reasons.push('DNSSEC-validated TLSA records are all unusable: TLS mandatory, not authenticated (RFC 7672 §2.2)');
    }
  }

  const sts = input.mtaSts;
  if (sts?.kind === 'policy' && sts.policy.mode !== 'none') {
    const inForce: MtaStsInForce = {
      domain: sts.domain,
      id: sts.id,
      mode: sts.policy.mode,
      allowedMx: sts.policy.mx,
      mxMatches: policyAllowsMx(sts.policy, mxHost),
    };
    decision.mtaSts = inForce;
    if (daneUsable) {
      reasons.push(`MTA-STS policy ${sts.id} (${sts.policy.mode}) not applied: DANE takes precedence (RFC 8461 §2)`);
    } else if (sts.policy.mode === 'enforce') {
      decision.allowedMx = sts.policy.mx;
      raise('mta-sts', true, 'pkix');
      if (!inForce.mxMatches) {
        const patterns = sts.policy.mx.join(', ');
        const why = `MX host ${mxHost} matches no mx pattern of MTA-STS policy ${sts.id} (${patterns}) (RFC 8461 §4.1)`;
        skips.push(why);
        reasons.push(`${why}; skipped`);
      } else {
        reasons.push(`MTA-STS policy ${sts.id} enforce: TLS with a PKIX-valid certificate for ${mxHost} (RFC 8461 §4.2)`);
      }
    } else {
      decision.testingOnly = { mtaSts: { ...inForce, wouldRequire: { requireTls: true, verify: 'pkix' } } };
      reasons.push(`MTA-STS policy ${sts.id} in testing mode: failures are reported, not enforced (RFC 8461 §5)`);
    }
  } else if (sts?.kind === 'policy') {
    reasons.push(`MTA-STS policy ${sts.id} has mode none`);
  } else if (sts) {
    // RFC 8461 §3.3: without a valid policy, deliver as though the domain published no MTA-STS policy.
    reasons.push(`no MTA-STS policy in force: ${sts.reason}`);
  }

  const out: TlsDecision = {
    mxHost,
    eligible: skips.length === 0,
    requireTls,
    verify,
    source,
    tenantPolicy,
    reasons,
    ...decision,
    servername: mxHost.toLowerCase().replace(/\.$/, ''),
  };
  if (requireTls) out.minVersion = 'TLSv1.2';
  if (skips.length > 0) out.skipReason = skips.join('; ');
  return out;
}

export interface MxTlsPlan {
  /** Hosts to try, in the order given (MX preference order is the caller's). */
  candidates: TlsDecision[];
  skipped: TlsDecision[];
  /**
   * Set when no host may be tried: defer, never send elsewhere or in clear. RFC 8461 §5.1: do not fail
   * permanently before checking for a new policy id; the cache re-reads the TXT id on every lookup.
   */
  deferReason?: string;
}

export function planMxTls(input: {
  tenantPolicy: TenantTlsPolicy;
  mxHosts: readonly string[];
  mtaSts?: MtaStsLookup;
  daneFor?: (mxHost: string) => DaneState | undefined;
}): MxTlsPlan {
  const decisions = input.mxHosts.map((mxHost) => {
    const dane = input.daneFor?.(mxHost);
    return decideTls({
      mxHost,
      tenantPolicy: input.tenantPolicy,
      ...(input.mtaSts ? { mtaSts: input.mtaSts } : {}),
      ...(dane ? { dane } : {}),
    });
  });
  const candidates = decisions.filter((d) => d.eligible);
  const skipped = decisions.filter((d) => !d.eligible);
  const plan: MxTlsPlan = { candidates, skipped };
  if (candidates.length === 0) {
    plan.deferReason =
      input.mxHosts.length === 0 ? 'no MX hosts to try' : `no MX host may be used: ${skipped.map((d) => d.skipReason).join('; ')}`;
  }
  return plan;
}
