import type { Command } from 'commander';
import type { Act, CliContext } from '../context.js';
import { configFor, openAdminStore } from '../context.js';
import { CliError } from '../output.js';

/**
 * `postwarden audit verify [--tenant]` recomputes the audit chains and checkpoint signatures
 * (src/audit/verify.ts) straight from the store, with this node's master key; exit 0 when intact,
 * 65 (AUDIT_CHAIN_BROKEN) naming the first broken entry of each broken chain. `postwarden audit
 * export [--tenant]` writes a chain as NDJSON (the JSON of GET /v1/audit).
 */
export function registerAudit(program: Command, act: Act): void {
  const audit = program.command('audit').description('Verify and export the tamper-evident audit log (works on the store directly)');

  audit
    .command('verify')
    .description('Recompute every audit chain (or one tenant’s) and its signed checkpoints; non-zero exit naming the first broken entry')
    .option('--tenant <id>', 'only this tenant’s chain (ten_…); `platform` for the platform chain')
    .action(act((ctx, cmd) => verify(ctx, cmd.opts<{ tenant?: string }>().tenant)));

  audit
    .command('export')
    .description('Write a chain as NDJSON, one entry per line, in seq order')
    .option('--tenant <id>', 'the tenant’s chain (ten_…); default the platform chain')
    .action(act((ctx, cmd) => exportChain(ctx, cmd.opts<{ tenant?: string }>().tenant)));
}

const tenantOf = (t: string | undefined) => (t === undefined ? undefined : t === 'platform' ? null : t);

async function verify(ctx: CliContext, tenant: string | undefined): Promise<void> {
  const config = await configFor(ctx);
  const store = await openAdminStore(ctx, config);
  try {
    const [{ verifyAudit }, { loadOrCreateMasterKey }, { join }] = await Promise.all([
      import('../../audit/index.js'),
      import('../../governance/index.js'),
      import('node:path'),
    ]);
    const masterKey = loadOrCreateMasterKey(config.security.masterKeyFile || join(config.dataDir, 'master.key')).key;
    const t = tenantOf(tenant);
    const report = await verifyAudit(store, { ...(t !== undefined ? { tenantId: t } : {}), masterKey });
    const broken = report.chains.filter((c) => !c.ok);
    if (broken.length) {
      throw new CliError(
        'AUDIT_CHAIN_BROKEN',
        broken
          .map(
            (c) =>
              `audit chain ${c.chain} is broken at seq ${c.problem!.seq}${c.problem!.id ? ` (${c.problem!.id})` : ''}: ${c.problem!.problem}`,
          )
          .join('\n'),
        broken.map((c) => ({ path: `/chains/${c.chain}/${c.problem!.seq}`, message: c.problem!.problem })),
      );
    }
    ctx.out.result(report, () =>
      report.chains.length
        ? report.chains.map((c) => `audit chain ${c.chain}: ${c.entries} entries, ${c.checkpoints} signed checkpoints, intact`)
        : ['no audit entries yet'],
    );
  } finally {
    await store.close();
  }
}

async function exportChain(ctx: CliContext, tenant: string | undefined): Promise<void> {
  const config = await configFor(ctx);
  const store = await openAdminStore(ctx, config);
  try {
    const { auditEntryJson, createAuditService, createAuditLog } = await import('../../audit/index.js');
    const { systemClock } = await import('../../core/index.js');
    const service = createAuditService({ store, log: createAuditLog({ clock: systemClock }) });
    for await (const e of service.entries(tenantOf(tenant) ?? null)) ctx.deps.stdout(`${JSON.stringify(auditEntryJson(e))}\n`);
  } finally {
    await store.close();
  }
}
