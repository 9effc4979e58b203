import type { Command } from 'commander';
import type { Act } from '../context.js';
import { withDomains, withTenants } from '../context.js';
import { table } from '../output.js';
import { domainJson } from '../wire.js';

/** `postwarden domains add|list`: the domains a tenant may send as, straight in the store. */
export function registerDomains(program: Command, act: Act): void {
  const domains = program.command('domains').description("Manage a tenant's sending domains (works on the store directly)");

  domains
    .command('add')
    .description('Add a sending domain; the tenant may then send as it and its subdomains')
    .argument('<name>', 'domain name, e.g. example.com')
    .requiredOption('--tenant <id>', 'tenant id (ten_…)')
    .action(
      act(async (ctx, cmd) => {
        const [name] = cmd.processedArgs as [string];
        const { tenant } = cmd.opts<{ tenant: string }>();
        const { d, records } = await withDomains(ctx, async (s, domains) => {
          await s.getTenant(tenant);
          const added = await domains.addDomain(tenant, name);
          return { d: added.domain, records: await domains.dnsRecords(tenant, added.domain.id) };
        });
        ctx.out.result({ ...domainJson(d), dns_records: records }, () => [
          `Added domain ${d.name} (${d.id}) to ${d.tenantId}. Publish:`,
          ...records.map((r) => `  ${r.name} ${r.type} "${r.value}"`),
        ]);
      }),
    );

  domains
    .command('list')
    .description("List a tenant's sending domains")
    .requiredOption('--tenant <id>', 'tenant id (ten_…)')
    .action(
      act(async (ctx, cmd) => {
        const { tenant } = cmd.opts<{ tenant: string }>();
        const rows = (
          await withTenants(ctx, async (s) => {
            await s.getTenant(tenant);
            return s.listDomains(tenant);
          })
        ).map(domainJson);
        ctx.out.result({ data: rows }, () =>
          rows.length
            ? table([['ID', 'NAME', 'CREATED'], ...rows.map((d) => [d.id, d.name, d.created_at ?? ''])])
            : [`Tenant ${tenant} has no domains: postwarden domains add example.com --tenant ${tenant}`],
        );
      }),
    );
}
