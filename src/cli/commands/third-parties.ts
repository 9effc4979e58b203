import type { Command } from 'commander';
import type { Act, CliContext } from '../context.js';
import { cliAudit, configFor, openAdminStore } from '../context.js';
import { CliError } from '../output.js';

/**
 * `postwarden third-parties list|seed|add --tenant <id>`: the third-party register on the store
 * directly (docs/compliance.md), as GET /v1/third-parties, POST /v1/third-parties/seed and POST
 * /v1/third-parties do, audited alike. `seed` proposes entries from the DMARC report sources (SPF
 * includes need the server's resolver: POST /v1/third-parties/seed adds them); `add` records one
 * service with its identifiers and certifications.
 */
export function registerThirdParties(program: Command, act: Act): void {
  const tp = program
    .command('third-parties')
    .description('The third-party register: services authorized to send or process data (works on the store directly)');
  tp.command('list')
    .description('Every register entry of a tenant')
    .requiredOption('--tenant <id>', 'the tenant (ten_…)')
    .action(act((ctx, cmd) => withRegister(ctx, async (r) => show(ctx, await r.list(cmd.opts<{ tenant: string }>().tenant)))));
  tp.command('seed')
    .description('Propose entries from SPF includes, DKIM domains and source addresses of DMARC reports')
    .requiredOption('--tenant <id>', 'the tenant (ten_…)')
    .action(
      act((ctx, cmd) => withRegister(ctx, async (r) => show(ctx, await r.seed(cmd.opts<{ tenant: string }>().tenant, ctx.who.actor)))),
    );
  tp.command('add <name>')
    .description('Add an entry')
    .requiredOption('--tenant <id>', 'the tenant (ten_…)')
    .option('--owner <who>', 'who owns the relationship')
    .option('--purpose <text>', 'what the service does for the tenant')
    .option('--ip <address...>', 'source addresses or CIDR networks')
    .option('--spf-include <domain...>', 'SPF include domains')
    .option('--dkim-domain <domain...>', 'DKIM d= domains')
    .option('--dkim-selector <selector...>', 'DKIM selectors it signs with')
    .option('--subdomain <name>', 'the subdomain it should send from (news, or news.example.com)')
    .option('--certification <name:issuer:expiry...>', 'e.g. "SOC 2 Type II:Example Audit LLP:2027-06-30"')
    .option('--review-due <date>', 'next review date (ISO)')
    .action(
      act((ctx, cmd) => {
        const o = cmd.opts<{
          tenant: string;
          owner?: string;
          purpose?: string;
          ip?: string[];
          spfInclude?: string[];
          dkimDomain?: string[];
          dkimSelector?: string[];
          subdomain?: string;
          certification?: string[];
          reviewDue?: string;
        }>();
        const certifications = (o.certification ?? []).map((c) => {
          const [name, issuer, expiry] = c.split(':');
          if (!name || !issuer || !expiry || Number.isNaN(Date.parse(expiry)))
            throw new CliError('USAGE', `--certification "${c}": expected name:issuer:ISO-date`);
          return { name, issuer, expires_at: new Date(Date.parse(expiry)).toISOString() };
        });
        return withRegister(ctx, async (r) =>
          show(ctx, [
            await r.create(
              o.tenant,
              {
                name: String(cmd.args[0]),
                owner: o.owner ?? null,
                purpose: o.purpose ?? null,
                certifications,
                review_due_at: o.reviewDue ? new Date(Date.parse(o.reviewDue)).toISOString() : null,
                identifiers: {
                  ips: o.ip ?? [],
                  spf_includes: o.spfInclude ?? [],
                  dkim_domains: o.dkimDomain ?? [],
                  dkim_selectors: o.dkimSelector ?? [],
                },
                delegation_subdomain: o.subdomain ?? null,
              },
              ctx.who.actor,
            ),
          ]),
        );
      }),
    );
}

async function withRegister(ctx: CliContext, fn: (r: import('../../compliance/index.js').Register) => Promise<void>): Promise<void> {
  const config = await configFor(ctx);
  const store = await openAdminStore(ctx, config);
  try {
    const [{ createRegister }, { systemClock }] = await Promise.all([import('../../compliance/index.js'), import('../../core/index.js')]);
    await fn(createRegister({ store, clock: systemClock, audit: await cliAudit(config, store) }));
  } finally {
    await store.close();
  }
}

/** --json prints the API's JSON of each entry (compliance/wire.ts), so a script reads either. */
async function show(ctx: CliContext, entries: import('../../compliance/index.js').ThirdParty[]): Promise<void> {
  const { thirdPartyJson } = await import('../../compliance/index.js');
  ctx.out.result({ data: entries.map(thirdPartyJson) }, () =>
    entries.length
      ? entries.map(
          (e) =>
            `${e.id}  ${e.name}  ${e.status}  ips=${e.identifiers.ips.join(',') || '-'}  spf=${e.identifiers.spf_includes.join(',') || '-'}`,
        )
      : ['no entries'],
  );
}
