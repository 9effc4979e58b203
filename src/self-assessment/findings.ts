import type { ProbeResult } from './listener-probe.js';

/**
 * Findings of a self-assessment run: pure, from the probes' results. Each finding is dated (the
 * run's time), names the listener and a stable check id, so runs compare: a finding present now and
 * absent in the previous run is a regression.
 */
export type Severity = 'critical' | 'high' | 'medium' | 'low' | 'info';

export interface SelfAssessmentFinding {
  check: string;
  listener: string;
  severity: Severity;
  title: string;
  detail: string;
  /** ISO time of the run that observed it. */
  observed_at: string;
  evidence: Record<string, unknown>;
}

export interface DependencyAudit {
  available: boolean;
  /** Why there is no data (registry not reachable, npm missing). */
  reason?: string;
  vulnerabilities?: { critical: number; high: number; moderate: number; low: number };
}

/** Days of certificate validity below which a finding is raised. */
export const EXPIRY_WARNING_DAYS = 30;

export function findingsOf(probes: ProbeResult[], audit: DependencyAudit, observedAt: string): SelfAssessmentFinding[] {
  const out: SelfAssessmentFinding[] = [];
  const add = (f: Omit<SelfAssessmentFinding, 'observed_at'>) => out.push({ ...f, observed_at: observedAt });
  for (const p of probes) {
    const listener = p.target.name;
    const where = { host: p.target.host, port: p.target.port };
    if (!p.reachable) {
      add({
        check: 'listener-unreachable',
        listener,
        severity: 'medium',
        title: `${listener} did not answer`,
        detail: p.error ?? '',
        evidence: where,
      });
      continue;
    }
    if (p.starttlsOffered === false && p.target.requireStarttls) {
      add({
        check: 'starttls-missing',
        listener,
        severity: 'high',
        title: `${listener} does not offer STARTTLS`,
        detail: 'RFC 3207: clients cannot encrypt the session; submission credentials and mail would cross in clear.',
        evidence: where,
      });
    }
    const legacy = p.versions.filter((v) => v.accepted && (v.version === 'TLSv1' || v.version === 'TLSv1.1'));
    if (legacy.length) {
      add({
        check: 'tls-legacy-version',
        listener,
        severity: 'high',
        title: `${listener} accepts ${legacy.map((v) => v.version).join(' and ')}`,
        detail: 'RFC 8996 deprecates TLS 1.0 and 1.1; set the minimum to TLS 1.2.',
        evidence: { ...where, versions: p.versions.map((v) => ({ version: v.version, accepted: v.accepted, cipher: v.cipher ?? null })) },
      });
    }
    if (p.weakCipherAccepted) {
      add({
        check: 'tls-weak-cipher',
        listener,
        severity: 'high',
        title: `${listener} negotiates the weak suite ${p.weakCipherAccepted}`,
        detail: 'RC4, 3DES, DES, NULL, export and anonymous suites must be refused (RFC 7465, RFC 9325 §4.1).',
        evidence: { ...where, cipher: p.weakCipherAccepted },
      });
    }
    const c = p.certificate;
    if (c && c.daysLeft < EXPIRY_WARNING_DAYS) {
      add({
        check: c.daysLeft < 0 ? 'certificate-expired' : 'certificate-expiring',
        listener,
        severity: c.daysLeft < 0 ? 'critical' : c.daysLeft < 7 ? 'high' : 'medium',
        title:
          c.daysLeft < 0
            ? `${listener} certificate expired on ${c.validTo}`
            : `${listener} certificate expires in ${c.daysLeft} days (${c.validTo})`,
        detail: 'Renew the certificate before it expires; remotes that verify will refuse the connection.',
        evidence: { ...where, subject: c.subject, issuer: c.issuer, valid_to: c.validTo, days_left: c.daysLeft },
      });
    }
    if (c && !c.trusted) {
      add({
        check: 'certificate-untrusted',
        listener,
        severity: 'medium',
        title: `${listener} certificate does not verify: ${c.trustError ?? 'untrusted'}`,
        detail: 'Remotes that verify (MTA-STS, verified TLS policies) will refuse it; serve the full chain from a trusted CA.',
        evidence: { ...where, subject: c.subject, issuer: c.issuer, chain_length: c.chainLength, error: c.trustError ?? null },
      });
    }
    if (p.openRelay) {
      add({
        check: 'open-relay',
        listener,
        severity: 'critical',
        title: `${listener} relays mail for domains that are not ours`,
        detail: 'RFC 5321 §3.6.2: an unauthenticated client was allowed a recipient at relay-check.invalid.',
        evidence: { ...where, reply: p.openRelay.reply },
      });
    }
  }
  if (!audit.available) {
    add({
      check: 'dependency-audit-unavailable',
      listener: 'dependencies',
      severity: 'info',
      title: 'npm audit data is not available',
      detail: `Dependency vulnerabilities were not assessed in this run: ${audit.reason ?? 'unknown reason'}.`,
      evidence: {},
    });
  } else if (audit.vulnerabilities && audit.vulnerabilities.critical + audit.vulnerabilities.high > 0) {
    const v = audit.vulnerabilities;
    add({
      check: 'dependency-vulnerable',
      listener: 'dependencies',
      severity: v.critical ? 'critical' : 'high',
      title: `npm audit reports ${v.critical} critical and ${v.high} high vulnerabilities`,
      detail: 'Update the affected packages (npm audit fix) and redeploy.',
      evidence: { ...v },
    });
  }
  return out;
}

/** Findings of `now` that the previous run did not have (by check and listener). */
export function regressionsOf(now: SelfAssessmentFinding[], previous: SelfAssessmentFinding[] | undefined): SelfAssessmentFinding[] {
  if (!previous) return [];
  const before = new Set(previous.map((f) => `${f.check}|${f.listener}`));
  return now.filter((f) => f.severity !== 'info' && !before.has(`${f.check}|${f.listener}`));
}
