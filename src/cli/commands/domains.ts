import type { Command } from 'commander';
import type { DomainRecord, Domains, DomainVerification } from '../../identity/index.js';
import type { DomainRow } from '../../store/index.js';
import type { Tenants } from '../../tenants/index.js';
import type { Act } from '../context.js';
import { withDomains, withTenants } from '../context.js';
import { table } from '../output.js';

/** The identity concern's JSON shapes, loaded when a command prints them: `--help` never pays for identity/. */
export const identityWire = () => import('../../identity/index.js');

/** `postwarden domains add|list|verify`: the domains a tenant may send as, straight in the store. */
export function verificationLines(v: DomainVerification): string[] {
  return [
    `${v.domain}: ${v.verified ? 'verified' : 'NOT verified'}`,
    ...table([
      ['STATUS', 'TYPE', 'NAME', 'FOUND'],
      ...v.records.map((r) => [r.status.toUpperCase(), r.type, r.name, r.found ? r.found.join(' | ').slice(0, 80) : '-']),
    ]),
    ...v.records.filter((r) => r.status !== 'ok').map((r) => `  ${r.name} ${r.type}: ${r.detail ?? r.status}; publish "${r.value}"`),
  ];
}

/** A domain given by id (dom_…) or by name. */
export async function findDomain(tenants: Tenants, tenantId: string, idOrName: string): Promise<DomainRow> {
  if (idOrName.startsWith('dom_')) return tenants.getDomain(tenantId, idOrName);
  const name = idOrName.toLowerCase().replace(/\.$/, '');
  const d = (await tenants.listDomains(tenantId)).find((x) => x.name === name);
  return d ?? tenants.getDomain(tenantId, idOrName);
}

export function recordLines(records: DomainRecord[]): string[] {
  return records.map((r) => `  ${r.action === 'remove' ? 'REMOVE ' : ''}${r.name} ${r.type} "${r.value}"\n      ${r.why}`);
}

export function registerDomains(program: Command, act: Act): void {
  const domains = program.command('domains').description("Manage a tenant's sending domains (works on the store directly)");

  domains
    .command('add')
    .description('Add a sending domain; prints every DNS record to publish, with why')
    .argument('<name>', 'domain name, e.g. example.com')
    .requiredOption('--tenant <id>', 'tenant id (ten_…)')
    .option('--streams <list>', 'restrict the domain to these streams (transactional,marketing,cold)')
    .action(
      act(async (ctx, cmd) => {
        const [name] = cmd.processedArgs as [string];
        const { tenant, streams } = cmd.opts<{ tenant: string; streams?: string }>();
        const { d, records } = await withDomains(ctx, async (s, domains) => {
          await s.getTenant(tenant);
          const added = await domains.addDomain(tenant, name, { streams }, ctx.who.actor);
          return { d: added.domain, records: await domains.dnsRecords(tenant, added.domain.id) };
        });
        const { domainJson, recordJson } = await identityWire();
        ctx.out.result({ ...domainJson(d), dns_records: records.map(recordJson) }, () => [
          `Added domain ${d.name} (${d.id}) to ${d.tenantId}. Publish:`,
          ...recordLines(records),
          `Then: postwarden domains verify ${d.name} --tenant ${d.tenantId}`,
        ]);
      }),
    );

  domains
    .command('verify')
    .description('Check every record of a domain in live DNS (the configured resolver; --dns-server) and activate published DKIM keys')
    .argument('<domain>', 'domain id (dom_…) or name')
    .requiredOption('--tenant <id>', 'tenant id (ten_…)')
    .action(
      act(async (ctx, cmd) => {
        const [which] = cmd.processedArgs as [string];
        const { tenant } = cmd.opts<{ tenant: string }>();
        const v = await withDomains(ctx, async (s: Tenants, domains: Domains) => {
          const d = await findDomain(s, tenant, which);
          return domains.verify(tenant, d.id, ctx.who.actor);
        });
        const { verificationJson } = await identityWire();
        ctx.out.result(verificationJson(v), () => verificationLines(v));
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
        ).map((await identityWire()).domainJson);
        ctx.out.result({ data: rows }, () =>
          rows.length
            ? table([['ID', 'NAME', 'CREATED'], ...rows.map((d) => [d.id, d.name, d.created_at ?? ''])])
            : [`Tenant ${tenant} has no domains: postwarden domains add example.com --tenant ${tenant}`],
        );
      }),
    );
}
