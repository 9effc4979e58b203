import type { Command } from 'commander';
import type { Act } from '../context.js';
import { withTenants } from '../context.js';
import { table } from '../output.js';

/** The key JSON shared with the API (tenants/wire.ts), loaded when a command prints it. */
const tenantsWire = () => import('../../tenants/index.js');

/** `postwarden keys create|list|revoke`: API keys of one tenant, straight in the store. */
export function registerKeys(program: Command, act: Act): void {
  const keys = program.command('keys').description("Manage a tenant's API keys (works on the store directly)");

  keys
    .command('create')
    .description('Create an API key; its secret is printed once and never stored')
    .requiredOption('--tenant <id>', 'tenant id (ten_…)')
    .requiredOption('--scopes <list>', 'comma-separated scopes: send, read, admin')
    .option('--name <name>', 'a label for people')
    .action(
      act(async (ctx, cmd) => {
        const opts = cmd.opts<{ tenant: string; scopes: string; name?: string }>();
        // As over the API (POST /v1/keys): a user gives a key only permissions it holds itself.
        if (ctx.who.holder) {
          const { checkKeyGrants } = await import('../../access/index.js');
          checkKeyGrants(
            ctx.who.holder,
            opts.scopes.split(',').map((x) => x.trim()),
          );
        }
        const created = await withTenants(ctx, (s) =>
          s.createKey({ tenantId: opts.tenant, scopes: opts.scopes, name: opts.name }, ctx.who.actor),
        );
        const { createdKeyJson } = await tenantsWire();
        ctx.out.result(createdKeyJson(created), () => [
          `Created key ${created.key.id} (${created.key.name}) for ${created.key.tenantId} with scopes ${created.key.scopes.join(',')}`,
          'Secret (shown once; store it now):',
          created.secret,
        ]);
      }),
    );

  keys
    .command('list')
    .description("List a tenant's keys (never their secrets)")
    .requiredOption('--tenant <id>', 'tenant id (ten_…)')
    .action(
      act(async (ctx, cmd) => {
        const { tenant } = cmd.opts<{ tenant: string }>();
        const rows = (
          await withTenants(ctx, async (s) => {
            await s.getTenant(tenant);
            return s.listKeys(tenant);
          })
        ).map((await tenantsWire()).keyJson);
        ctx.out.result({ data: rows }, () =>
          rows.length
            ? table([
                ['ID', 'NAME', 'HINT', 'SCOPES', 'CREATED', 'REVOKED'],
                ...rows.map((k) => [k.id, k.name, `${k.hint}…`, k.scopes.join(','), k.created_at ?? '', k.revoked_at ?? '-']),
              ])
            : [`Tenant ${tenant} has no keys: postwarden keys create --tenant ${tenant} --scopes send`],
        );
      }),
    );

  keys
    .command('revoke')
    .description('Revoke a key; requests and SMTP logins using it fail from now on')
    .argument('<key-id>', 'key id (key_…)')
    .requiredOption('--tenant <id>', 'tenant id (ten_…)')
    .action(
      act(async (ctx, cmd) => {
        const [keyId] = cmd.processedArgs as [string];
        const { tenant } = cmd.opts<{ tenant: string }>();
        await withTenants(ctx, (s) => s.revokeKey(tenant, keyId, ctx.who.actor));
        ctx.out.result({ id: keyId, tenant_id: tenant, revoked: true }, () => [`Revoked key ${keyId}`]);
      }),
    );
}
