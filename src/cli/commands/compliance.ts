import type { Command } from 'commander';
import type { Store } from '../../store/index.js';
import type { Act, CliContext } from '../context.js';
import { cliAudit, configFor, openAdminStore } from '../context.js';
import { CliError } from '../output.js';

/**
 * `postwarden compliance records --tenant <id> [--from <iso>] [--to <iso>]`: a tenant's records of
 * processing over a period (docs/compliance.md, "Records of processing"), computed on the store
 * directly, the document GET /v1/compliance/records-of-processing answers. `--json` prints it as is;
 * otherwise one readable line per classification, stream, third party and data class.
 */
export function registerCompliance(program: Command, act: Act): void {
  const compliance = program.command('compliance').description('Compliance evidence of a tenant (works on the store directly)');
  compliance
    .command('records')
    .description('Records of processing: messages per classification and stream, by TLS evidence; third parties; retention')
    .requiredOption('--tenant <id>', 'the tenant (ten_…)')
    .option('--from <iso>', 'start of the period, inclusive (default 30 days before --to)')
    .option('--to <iso>', 'end of the period, exclusive (default now)')
    .action(act((ctx, cmd) => records(ctx, cmd.opts<{ tenant: string; from?: string; to?: string }>())));
}

/** An ISO 8601 date or date-time option, in ms; a bad one is a usage error (64). */
function timeOption(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw new CliError('USAGE', `--${name} must be an ISO 8601 date or date-time`);
  return t;
}

async function records(ctx: CliContext, o: { tenant: string; from?: string; to?: string }): Promise<void> {
  const [{ createRecordsOfProcessing, createRegister, periodWithDefaults, recordsText }, { createRetention }, { systemClock }] =
    await Promise.all([import('../../compliance/index.js'), import('../../retention/index.js'), import('../../core/index.js')]);
  const period = periodWithDefaults({ from: timeOption(o.from, 'from'), to: timeOption(o.to, 'to') }, systemClock.now());
  if (period.from >= period.to) throw new CliError('USAGE', '--from must be before --to');
  const config = await configFor(ctx);
  const store = await openAdminStore(ctx, config);
  try {
    const retention = createRetention({ store, clock: systemClock, audit: await cliAudit(config, store) });
    const service = createRecordsOfProcessing({
      store,
      clock: systemClock,
      register: createRegister({ store, clock: systemClock }),
      retentionPolicies: async (tenantId) => (await retention.policies(tenantId)).policies,
      retentionClasses: (tenantId) => retention.classes(tenantId),
      classificationPolicies: (tenantId) => storedClassificationPolicies(store, tenantId),
    });
    const doc = await service.compute({ tenantId: o.tenant, ...period });
    ctx.out.result(doc, () => recordsText(doc));
  } finally {
    await store.close();
  }
}

/**
 * The policies of a tenant's stored classification rules (validated by src/classification when
 * they were written), read from the document as the server stored it: the CLI opens the store
 * directly and does not build the classification service.
 */
async function storedClassificationPolicies(
  store: Pick<Store, 'classification'>,
  tenantId: string,
): Promise<{ id: string; classification: string; retention_class?: string }[]> {
  const doc = (await store.classification.getPolicy(tenantId))?.doc;
  const policies = Array.isArray(doc?.policies) ? (doc.policies as Record<string, unknown>[]) : [];
  return policies.flatMap((p) =>
    typeof p?.id === 'string' && typeof p.classification === 'string'
      ? [
          {
            id: p.id,
            classification: p.classification,
            ...(typeof p.retention_class === 'string' ? { retention_class: p.retention_class } : {}),
          },
        ]
      : [],
  );
}
