/**
 * TLS statistics for auditors: of the deliveries in a period, the share made over TLS, over verified
 * TLS (PKIX-valid for the MX host, or DANE-authenticated), under an enforced MTA-STS policy and under
 * DANE. Pure over counts (the store counts attempts by index); the API and the DNS posture evidence
 * report both call `summariseTlsStats`, so they cannot disagree.
 */
export interface TlsDomainCounts {
  domain: string;
  attempts: number;
  delivered: number;
  overTls: number;
  verified: number;
  mtaSts: number;
  dane: number;
  policyFailures: number;
}

export interface TlsShares {
  deliveries: number;
  over_tls: number;
  verified_tls: number;
  mta_sts_enforced: number;
  dane: number;
  /** Shares of deliveries, 0…1, rounded to 4 places; 0 when there were no deliveries. */
  share: { over_tls: number; verified_tls: number; mta_sts_enforced: number; dane: number };
  /** Attempts refused or deferred because the TLS policy could not be met. */
  policy_failures: number;
}

export interface TlsStatsReport {
  from: string;
  to: string;
  total: TlsShares;
  domains: Array<{ domain: string } & TlsShares>;
}

const ratio = (n: number, d: number): number => (d === 0 ? 0 : Math.round((n / d) * 10_000) / 10_000);

function shares(c: Omit<TlsDomainCounts, 'domain'>): TlsShares {
  return {
    deliveries: c.delivered,
    over_tls: c.overTls,
    verified_tls: c.verified,
    mta_sts_enforced: c.mtaSts,
    dane: c.dane,
    share: {
      over_tls: ratio(c.overTls, c.delivered),
      verified_tls: ratio(c.verified, c.delivered),
      mta_sts_enforced: ratio(c.mtaSts, c.delivered),
      dane: ratio(c.dane, c.delivered),
    },
    policy_failures: c.policyFailures,
  };
}

export function summariseTlsStats(rows: readonly TlsDomainCounts[], period: { from: number; to: number }): TlsStatsReport {
  const sum = rows.reduce(
    (a, r) => ({
      attempts: a.attempts + r.attempts,
      delivered: a.delivered + r.delivered,
      overTls: a.overTls + r.overTls,
      verified: a.verified + r.verified,
      mtaSts: a.mtaSts + r.mtaSts,
      dane: a.dane + r.dane,
      policyFailures: a.policyFailures + r.policyFailures,
    }),
    { attempts: 0, delivered: 0, overTls: 0, verified: 0, mtaSts: 0, dane: 0, policyFailures: 0 },
  );
  return {
    from: new Date(period.from).toISOString(),
    to: new Date(period.to).toISOString(),
    total: shares(sum),
    domains: rows.map((r) => ({ domain: r.domain, ...shares(r) })),
  };
}
