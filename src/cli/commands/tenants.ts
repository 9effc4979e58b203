import type { Command } from 'commander';
import type { Act } from '../context.js';
import { withTenants } from '../context.js';
import { table } from '../output.js';
import { tenantJson } from '../wire.js';

/** `postwarden tenants create|list`: bootstrap tenants straight in the store (no server needed). */
export function registerTenants(program: Command, act: Act): void {
  const tenants = program.command('tenants').description('Create and list tenants (works on the store directly)');

  tenants
    .command('create')
    .description('Create a tenant')
    .argument('<name>', 'a name for people')
    .option('--sandbox', "capture this tenant's outbound mail locally instead of delivering it")
    .action(
      act(async (ctx, cmd) => {
        const [name] = cmd.processedArgs as [string];
        const opts = cmd.opts<{ sandbox?: boolean }>();
        const t = await withTenants(ctx, (s) => s.createTenant({ name, sandbox: opts.sandbox === true }));
        ctx.out.result(tenantJson(t), () => [`Created tenant ${t.id} (${t.name})${t.sandbox ? ' in sandbox mode' : ''}`]);
      }),
    );

  tenants
    .command('list')
    .description('List tenants')
    .action(
      act(async (ctx) => {
        const rows = (await withTenants(ctx, (s) => s.listTenants())).map(tenantJson);
        ctx.out.result({ data: rows }, () =>
          rows.length
            ? table([
                ['ID', 'NAME', 'SANDBOX', 'CREATED'],
                ...rows.map((t) => [t.id, t.name, t.sandbox ? 'yes' : 'no', t.created_at ?? '']),
              ])
            : ['No tenants yet: postwarden tenants create NAME'],
        );
      }),
    );
}
