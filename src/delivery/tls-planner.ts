import { createHash } from 'node:crypto';
import type { MxHost, Resolver } from '../dns/index.js';
import {
  type DaneState,
  lookupDane,
  type MtaStsCache,
  type MtaStsLookup,
  type MxTlsPlan,
  planMxTls,
  presentTlsa,
  type TenantTlsPolicy,
  type TlsDecision,
} from '../transport-policy/index.js';

/**
 * The TLS plan of one recipient domain for one message: which MX hosts may be used and how TLS must
 * be used on each, from the tenant's (or stream's) policy, the domain's MTA-STS policy (through the
 * cache, RFC 8461) and each host's DANE state (RFC 7672; only DNSSEC-validated TLSA counts). The
 * decision itself is transport-policy's `planMxTls`; this module gathers its inputs and names the
 * plan, so connections opened under one plan are never reused under a weaker one.
 */
export interface TlsPlannerDeps {
  /** The tenant's level for a stream (default opportunistic). */
  tenantPolicy(tenantId: string, stream: string): Promise<TenantTlsPolicy>;
  /** MTA-STS policy cache; absent: MTA-STS is not consulted. */
  mtaSts?: MtaStsCache;
  /** Resolver whose AD bit is trusted (a validating resolver over a trusted path); absent: no DANE. */
  daneResolver?: Resolver;
}

export interface DomainTlsPlan {
  domain: string;
  stream: string;
  tenantPolicy: TenantTlsPolicy;
  mtaSts?: MtaStsLookup;
  plan: MxTlsPlan;
  /** Eligible hosts in preference order, each with its decision. */
  hosts: Array<{ host: MxHost; decision: TlsDecision }>;
  /** Pool key suffix: empty for plain opportunistic delivery (connections shared as before). */
  key: string;
  /** RFC 8460 §4.4 policy of this domain, for TLS-RPT. */
  rpt: RptPolicy;
}

export interface RptPolicy {
  type: 'sts' | 'tlsa' | 'no-policy-found';
  strings: string[];
  mxPatterns: string[];
  /** A policy-discovery failure to report even when delivery goes on (RFC 8460 §4.3.2.3). */
  discoveryFailure?: { resultType: string; reason: string };
}

/** A message's own TLS requirement (its classification policy, docs/classification.md): never opportunistic. */
export type MessageTlsRequirement = 'verified' | 'dane';

export interface TlsPlanner {
  plan(input: {
    domain: string;
    hosts: MxHost[];
    tenantId: string;
    stream: string;
    requiredTls?: MessageTlsRequirement;
  }): Promise<DomainTlsPlan>;
}

export function createTlsPlanner(deps: TlsPlannerDeps): TlsPlanner {
  return {
    async plan({ domain, hosts, tenantId, stream, requiredTls }) {
      const [tenantPolicy, mtaSts, dane] = await Promise.all([
        deps.tenantPolicy(tenantId, stream),
        deps.mtaSts?.getPolicy(domain),
        Promise.all(hosts.map((h) => (deps.daneResolver ? lookupDane(deps.daneResolver, h.name) : undefined))),
      ]);
      const daneByHost = new Map<string, DaneState | undefined>(hosts.map((h, i) => [h.name, dane[i]]));
      return buildPlan({
        domain,
        stream,
        hosts,
        tenantPolicy,
        ...(mtaSts ? { mtaSts } : {}),
        daneFor: (h) => daneByHost.get(h),
        ...(requiredTls ? { requiredTls } : {}),
      });
    },
  };
}

/** Pure: the plan from gathered inputs (also what tests without DNS use). */
export function buildPlan(input: {
  domain: string;
  stream: string;
  hosts: MxHost[];
  tenantPolicy: TenantTlsPolicy;
  mtaSts?: MtaStsLookup;
  daneFor?: (host: string) => DaneState | undefined;
  requiredTls?: MessageTlsRequirement;
}): DomainTlsPlan {
  // A message's requirement raises the tenant's level; it never lowers it.
  const tenantPolicy = input.requiredTls ? 'verified' : input.tenantPolicy;
  const plan = withMessageRequirement(
    planMxTls({
      tenantPolicy,
      mxHosts: input.hosts.map((h) => h.name),
      ...(input.mtaSts ? { mtaSts: input.mtaSts } : {}),
      ...(input.daneFor ? { daneFor: input.daneFor } : {}),
    }),
    input.requiredTls,
  );
  const byName = new Map(input.hosts.map((h) => [h.name, h]));
  const hosts = plan.candidates.flatMap((decision) => {
    const host = byName.get(decision.mxHost);
    return host ? [{ host, decision }] : [];
  });
  const all = [...plan.candidates, ...plan.skipped];
  const plain = all.every((d) => !d.requireTls && !d.testingOnly && !d.mtaSts && !d.dane);
  const key = plain
    ? ''
    : createHash('sha256')
        .update(
          JSON.stringify(
            // TLSA sorted: DNS answers come in any order, and the same set must name the same pool.
            all.map((d) => [d.mxHost, d.eligible, d.requireTls, d.verify, d.minVersion, d.dane?.tlsa.map((r) => presentTlsa(r)).sort()]),
          ),
        )
        .digest('hex')
        .slice(0, 16);
  return {
    domain: input.domain,
    stream: input.stream,
    tenantPolicy,
    ...(input.mtaSts ? { mtaSts: input.mtaSts } : {}),
    plan,
    hosts,
    key,
    rpt: rptPolicyOf(input.mtaSts, all),
  };
}

/**
 * A message that requires DANE may use only hosts whose certificate DANE authenticates (RFC 7672
 * §2.2): the others are skipped, and a plan left without hosts defers (never bounces).
 */
function withMessageRequirement(plan: MxTlsPlan, required: MessageTlsRequirement | undefined): MxTlsPlan {
  if (required !== 'dane') return plan;
  const reason = 'the message requires DANE-authenticated TLS and this host has no usable DNSSEC-validated TLSA records';
  const candidates = plan.candidates.filter((d) => d.verify === 'dane');
  const refused = plan.candidates
    .filter((d) => d.verify !== 'dane')
    .map((d) => ({ ...d, eligible: false, skipReason: reason, reasons: [...d.reasons, reason] }));
  const skipped = [...plan.skipped, ...refused];
  return {
    candidates,
    skipped,
    ...(candidates.length ? {} : { deferReason: `no MX host may be used: ${skipped.map((d) => d.skipReason).join('; ')}` }),
  };
}

/**
 * RFC 8460 §4.4: the policy a session was made under. DANE takes precedence (RFC 8461 §2), so a host
 * with usable TLSA is reported as `tlsa`; an MTA-STS policy (any mode but none) as `sts` with its
 * text reconstructed line by line; a domain whose policy could not be fetched as `sts` with the
 * discovery failure (§4.3.2.3), and otherwise `no-policy-found`.
 */
function rptPolicyOf(sts: MtaStsLookup | undefined, decisions: TlsDecision[]): RptPolicy {
  const tlsa = decisions.flatMap((d) => (d.dane ? d.dane.tlsa.map((r) => presentTlsa(r)) : []));
  if (tlsa.length > 0) return { type: 'tlsa', strings: [...new Set(tlsa)], mxPatterns: [] };
  if (sts?.kind === 'policy' && sts.policy.mode !== 'none') {
    const p = sts.policy;
    const strings = [`version: ${p.version}`, `mode: ${p.mode}`, ...p.mx.map((m) => `mx: ${m}`), `max_age: ${p.maxAge}`];
    return { type: 'sts', strings, mxPatterns: p.mx };
  }
  if (sts?.kind === 'none' && sts.resultType) {
    return { type: 'sts', strings: [], mxPatterns: [], discoveryFailure: { resultType: sts.resultType, reason: sts.reason } };
  }
  return { type: 'no-policy-found', strings: [], mxPatterns: [] };
}
