import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { systemClock } from '../../core/index.js';
import { type Act, cliAudit, configFor, openAdminStore } from '../context.js';
import { CliError } from '../output.js';

/**
 * `postwarden users create`: a person, straight in the store. Its first use is the first owner of a
 * tenant, made on the host before anyone can sign in (the host operator may make an owner); run
 * `--as <email>` it is held to the rules POST /v1/users applies (users:write, only an owner makes an
 * owner, a caller grants only permissions it holds). The password is read from a file so it never
 * sits in the shell history or the process list.
 */
export function registerUsers(program: Command, act: Act): void {
  const users = program.command('users').description('People who sign in, and their roles (works on the store directly)');

  users
    .command('create')
    .description('Create a user of a tenant (or, without --tenant, a platform operator above tenants); the first owner is made here')
    .requiredOption('--email <email>', 'the address the user signs in with')
    .requiredOption('--role <role>', 'owner, admin, developer, analyst, support, auditor or a custom role of the tenant')
    .option('--tenant <id>', 'tenant id (ten_…); omit for a platform operator')
    .option('--name <name>', 'a name for people (default: the email)')
    .option('--password-file <file>', 'a file whose first line is the password (12 characters or more); omit for SSO only')
    .action(
      act(async (ctx, cmd) => {
        const o = cmd.opts<{ email: string; role: string; tenant?: string; name?: string; passwordFile?: string }>();
        const password = o.passwordFile === undefined ? undefined : readPassword(o.passwordFile);
        const config = await configFor(ctx);
        const store = await openAdminStore(ctx, config);
        try {
          const [{ createUsers, userJson }, { sealSecret, openSecret, loadOrCreateMasterKey }, { join }] = await Promise.all([
            import('../../access/index.js'),
            import('../../governance/index.js'),
            import('node:path'),
          ]);
          const masterKey = loadOrCreateMasterKey(config.security.masterKeyFile || join(config.dataDir, 'master.key')).key;
          const audit = await cliAudit(config, store);
          const service = createUsers({
            store,
            clock: systemClock,
            seal: (plain, aad) => sealSecret(Buffer.from(plain, 'utf8'), masterKey, aad),
            open: (sealed, aad) => openSecret(sealed, masterKey, aad).toString('utf8'),
            // user.created commits with the insert, as for POST /v1/users.
            audit: (fn, entry) => audit.change(fn, entry),
          });
          const tenantId = o.tenant ?? null;
          const user = await service.createUser(
            ctx.who.caller,
            { tenantId, email: o.email, role: o.role, name: o.name, password },
            { actor: ctx.who.actor },
          );
          ctx.out.result(userJson(user), () => [
            `Created user ${user.id} (${user.email}) with role ${user.role}${tenantId ? ` in ${tenantId}` : ' (platform operator)'}`,
            ...(password === undefined ? ['No password: the user signs in with SSO, or set one later.'] : []),
          ]);
        } finally {
          await store.close();
        }
      }),
    );
}

function readPassword(file: string): string {
  try {
    return readFileSync(file, 'utf8').split(/\r?\n/)[0] ?? '';
  } catch (e) {
    throw new CliError('INPUT_UNREADABLE', `cannot read --password-file ${file}: ${(e as Error).message}`);
  }
}
