import type { Command } from 'commander';
import type { Act } from '../context.js';
import { configFor, openAdminStore } from '../context.js';

/**
 * `postwarden self-assess [--no-audit]`: runs the platform's self-assessment now (docs/posture.md,
 * "Continuous self-assessment"): probes this node's listeners as a remote would, runs npm audit when
 * the registry answers, stores the dated findings and prints them. Findings are results, not
 * errors: it exits 0 whatever it finds.
 */
export function registerSelfAssess(program: Command, act: Act): void {
  program
    .command('self-assess')
    .description("Probe this node's own listeners (TLS versions, certificates, STARTTLS, open relay) and audit dependencies")
    .option('--no-audit', 'skip npm audit (the run records that dependencies were not assessed)')
    .action(
      act(async (ctx, cmd) => {
        const o = cmd.opts<{ audit: boolean }>();
        const config = await configFor(ctx);
        const store = await openAdminStore(ctx, config);
        try {
          const [{ createSelfAssessment, listenerTargets }, { selfAssessmentListeners }, { systemClock }] = await Promise.all([
            import('../../self-assessment/index.js'),
            import('../../config/index.js'),
            import('../../core/index.js'),
          ]);
          const sa = createSelfAssessment({
            store,
            clock: systemClock,
            targets: () => listenerTargets(selfAssessmentListeners(config)),
            ...(o.audit ? {} : { dependencyAudit: async () => ({ available: false, reason: 'skipped with --no-audit' }) }),
          });
          const run = await sa.run();
          ctx.out.result(run, () => [
            `${run.started_at} ${run.status}`,
            ...run.findings.map((f) => `${f.severity.padEnd(8)} ${f.listener.padEnd(12)} ${f.check}: ${f.title}`),
          ]);
        } finally {
          await store.close();
        }
      }),
    );
}
