import type { Command } from 'commander';
import type { Act } from '../context.js';
import { withTenants } from '../context.js';
import { collectList } from '../option-parsers.js';
import { table } from '../output.js';

/** The tenant JSON shared with the API (tenants/wire.ts), loaded when a command prints it. */
const tenantsWire = () => import('../../tenants/index.js');

/** `postwarden tenants create|list|tls-policy`: tenants straight in the store (no server needed). */
export function registerTenants(program: Command, act: Act): void {
  const tenants = program.command('tenants').description('Create and list tenants (works on the store directly)');

  tenants
    .command('create')
    .description('Create a tenant')
    .argument('<name>', 'a name for people')
    .option('--sandbox', "capture this tenant's outbound mail locally instead of delivering it")
    .option('--region <region>', "pin the tenant's data to a region: only nodes of it serve the tenant (docs/residency.md)")
    .action(
      act(async (ctx, cmd) => {
        const [name] = cmd.processedArgs as [string];
        const opts = cmd.opts<{ sandbox?: boolean; region?: string }>();
        const t = await withTenants(ctx, (s) =>
          s.createTenant({ name, sandbox: opts.sandbox === true, dataRegion: opts.region ?? null }, ctx.who.actor),
        );
        const { tenantJson } = await tenantsWire();
        ctx.out.result(tenantJson(t), () => [`Created tenant ${t.id} (${t.name})${t.sandbox ? ' in sandbox mode' : ''}`]);
      }),
    );

  tenants
    .command('list')
    .description('List tenants')
    .action(
      act(async (ctx) => {
        const { tenantJson } = await tenantsWire();
        const rows = (await withTenants(ctx, (s) => s.listTenants())).map(tenantJson);
        ctx.out.result({ data: rows }, () =>
          rows.length
            ? table([
                ['ID', 'NAME', 'SANDBOX', 'REGION', 'CREATED'],
                ...rows.map((t) => [t.id, t.name, t.sandbox ? 'yes' : 'no', t.data_region ?? '-', t.created_at ?? '']),
              ])
            : ['No tenants yet: postwarden tenants create NAME'],
        );
      }),
    );

  tenants
    .command('region')
    .description("Show, set or clear the region a tenant's data is pinned to (docs/residency.md)")
    .argument('<tenant-id>', 'the tenant')
    .argument('[region]', 'a region label (eu, us, …); omit to show it')
    .option('--clear', 'unpin: any node serves the tenant again')
    .action(
      act(async (ctx, cmd) => {
        const [tenantId, region] = cmd.processedArgs as [string, string | undefined];
        const o = cmd.opts<{ clear?: boolean }>();
        const t = await withTenants(ctx, (s) =>
          o.clear || region !== undefined
            ? s.updateTenant(tenantId, { dataRegion: o.clear ? null : (region ?? null) }, ctx.who.actor)
            : s.getTenant(tenantId),
        );
        const { tenantJson } = await tenantsWire();
        ctx.out.result(tenantJson(t), () => [
          t.dataRegion ? `Tenant ${t.id} is pinned to region ${t.dataRegion}` : `Tenant ${t.id} is not pinned to a region`,
        ]);
      }),
    );

  tenants
    .command('tls-policy')
    .description('Show or set the outbound TLS policy: opportunistic (default), required or verified, per stream')
    .argument('<tenant-id>', 'the tenant')
    .option('--default <level>', 'level for streams not listed: opportunistic, required or verified')
    .option('--stream <stream=level>', 'level of one stream, e.g. transactional=verified (repeatable)', collectList)
    .option('--reset', 'back to opportunistic for every stream')
    .action(
      act(async (ctx, cmd) => {
        const [tenantId] = cmd.processedArgs as [string];
        const o = cmd.opts<{ default?: string; stream?: string[]; reset?: boolean }>();
        const doc = await withTenants(ctx, async (s) => {
          if (o.reset) return s.setTlsPolicy(tenantId, { default: 'opportunistic', streams: {} }, ctx.who.actor);
          if (o.default === undefined && !o.stream?.length) return s.getTlsPolicy(tenantId);
          const current = await s.getTlsPolicy(tenantId);
          const streams: Record<string, string> = { ...current.streams };
          for (const pair of o.stream ?? []) {
            const [stream = '', level = ''] = pair.split('=');
            streams[stream.trim()] = level.trim();
          }
          return s.setTlsPolicy(tenantId, { default: o.default ?? current.default, streams }, ctx.who.actor);
        });
        ctx.out.result({ tenant_id: tenantId, ...doc }, () => [
          `TLS policy of ${tenantId}: default ${doc.default}`,
          ...Object.entries(doc.streams).map(([k, v]) => `  ${k}: ${v}`),
        ]);
      }),
    );
}
