import { execFile } from 'node:child_process';
import { type Clock, type NewEvent, newEvent, newId } from '../core/index.js';
import type { SelfAssessmentRow, Store } from '../store/index.js';
import { type DependencyAudit, findingsOf, regressionsOf, type SelfAssessmentFinding } from './findings.js';
import { type ProbeTarget, probeListener } from './listener-probe.js';

/**
 * Continuous self-assessment (docs/self-assessment.md): on a schedule, and on demand (CLI
 * `postwarden self-assess`, GET/POST /v1/self-assessment), the platform probes its own listeners as
 * a remote would and audits its dependencies, stores the dated findings (history), and raises a
 * `self_assessment.regressed` event for each finding the previous run did not have.
 */
export interface SelfAssessmentDeps {
  store: Pick<Store, 'selfAssessments' | 'events'>;
  clock: Clock;
  /** The listeners to probe (platform.ts derives them from the config). */
  targets: () => ProbeTarget[];
  /** Extra trust anchors for verifying our own certificates (the platform's extraCaFile). */
  ca?: string[];
  /** Dependency audit; default `npm audit --json` in the installation directory. */
  dependencyAudit?: () => Promise<DependencyAudit>;
  timeoutMs?: number;
}

export interface SelfAssessmentRun {
  id: string;
  started_at: string;
  finished_at: string;
  status: 'pass' | 'findings';
  findings: SelfAssessmentFinding[];
  regressions: SelfAssessmentFinding[];
}

/** Where this node listens, as the config says (config's `selfAssessmentListeners` builds it). */
export interface OwnListeners {
  host: string;
  hostname: string;
  roles: readonly string[];
  smtpPort: number;
  mxPort: number;
  httpPort: number;
  httpsTls: boolean;
}

/** The listeners to probe, as a remote reaches them: submission and MX over STARTTLS, HTTPS when the API serves TLS. */
export function listenerTargets(o: OwnListeners): ProbeTarget[] {
  const host = o.host === '0.0.0.0' || o.host === '::' ? '127.0.0.1' : o.host;
  const out: ProbeTarget[] = [];
  if (o.roles.includes('smtp'))
    out.push({ name: 'submission', host, port: o.smtpPort, mode: 'starttls', servername: o.hostname, requireStarttls: true });
  if (o.roles.includes('feedback'))
    out.push({ name: 'mx', host, port: o.mxPort, mode: 'starttls', servername: o.hostname, requireStarttls: true, relayCheck: true });
  if (o.roles.includes('api') && o.httpsTls)
    out.push({ name: 'https', host, port: o.httpPort, mode: 'implicit-tls', servername: o.hostname });
  return out;
}

export const runJson = (r: SelfAssessmentRow, regressions: SelfAssessmentFinding[] = []): SelfAssessmentRun => ({
  id: r.id,
  started_at: new Date(r.startedAt).toISOString(),
  finished_at: new Date(r.finishedAt).toISOString(),
  status: r.status,
  findings: r.findings as unknown as SelfAssessmentFinding[],
  regressions,
});

/** `npm audit --json`, bounded in time; no registry, no data, and the finding says so. */
export function npmAudit(cwd: string, timeoutMs = 30_000): Promise<DependencyAudit> {
  return new Promise((resolve) => {
    execFile('npm', ['audit', '--json', '--omit=dev'], { cwd, timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout) => {
      try {
        const report = JSON.parse(stdout) as { metadata?: { vulnerabilities?: Record<string, number> }; error?: { summary?: string } };
        const v = report.metadata?.vulnerabilities;
        if (!v) return resolve({ available: false, reason: report.error?.summary ?? err?.message ?? 'npm audit gave no data' });
        resolve({
          available: true,
          vulnerabilities: { critical: v.critical ?? 0, high: v.high ?? 0, moderate: v.moderate ?? 0, low: v.low ?? 0 },
        });
      } catch {
        resolve({ available: false, reason: err ? `npm audit failed: ${err.message.split('\n')[0]}` : 'npm audit output unreadable' });
      }
    });
  });
}

export function createSelfAssessment(deps: SelfAssessmentDeps) {
  return {
    async run(): Promise<SelfAssessmentRun> {
      const startedAt = deps.clock.now();
      const observedAt = new Date(startedAt).toISOString();
      const probes = [];
      for (const t of deps.targets()) {
        probes.push(
          await probeListener(t, {
            now: startedAt,
            ...(deps.ca ? { ca: deps.ca } : {}),
            ...(deps.timeoutMs ? { timeoutMs: deps.timeoutMs } : {}),
          }),
        );
      }
      const audit = deps.dependencyAudit ? await deps.dependencyAudit() : await npmAudit(process.cwd());
      const findings = findingsOf(probes, audit, observedAt);
      const previous = (await deps.store.selfAssessments.list({ limit: 1 }))[0];
      const regressions = regressionsOf(findings, previous?.findings as unknown as SelfAssessmentFinding[] | undefined);
      const row: SelfAssessmentRow = {
        id: newId('sa', startedAt),
        startedAt,
        finishedAt: deps.clock.now(),
        status: findings.some((f) => f.severity !== 'info') ? 'findings' : 'pass',
        findings: findings as unknown as SelfAssessmentRow['findings'],
      };
      await deps.store.selfAssessments.insert(row);
      if (regressions.length) {
        // Platform-wide: no tenant owns our listeners (tenant id '' like operator pacing events).
        const events: NewEvent[] = regressions.map((f) =>
          newEvent(
            'self_assessment.regressed',
            { tenantId: '' },
            { run_id: row.id, check: f.check, listener: f.listener, severity: f.severity, title: f.title, observed_at: f.observed_at },
          ),
        );
        await deps.store.events.append(events, deps.clock.now());
      }
      return runJson(row, regressions);
    },
    /** History, newest first. */
    async history(q: { limit: number; before?: number }): Promise<SelfAssessmentRun[]> {
      return (await deps.store.selfAssessments.list(q)).map((r) => runJson(r));
    },
  };
}

export type SelfAssessment = ReturnType<typeof createSelfAssessment>;
