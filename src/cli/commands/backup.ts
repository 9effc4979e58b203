import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import type { Act, CliContext } from '../context.js';
import { cliAudit, configFor, openAdminStore, requireDataDir } from '../context.js';
import { CliError } from '../output.js';

/**
 * `postwarden backup <file>`: an online, consistent copy of the SQLite store while the server runs
 * (SQLite's backup API), checked before it is reported. PostgreSQL is backed up with its own tools
 * (pg_dump); docs/deploy.md has both.
 *
 * A backup is a copy of every tenant's content, so it is audited like a read of content: the entry
 * (platform chain, the host operator) is committed before the copy is made, and a backup that cannot
 * be recorded is not made. The copy therefore holds its own entry.
 */
export function registerBackup(program: Command, act: Act): void {
  program
    .command('backup')
    .description('Copy the SQLite store to <file> while the server runs (online backup; PostgreSQL: use pg_dump)')
    .argument('<file>', 'destination file; must not exist')
    .action(act((ctx, cmd) => backup(ctx, (cmd.processedArgs as [string])[0])));
}

async function backup(ctx: CliContext, file: string): Promise<void> {
  const config = await configFor(ctx);
  if (config.store.url) {
    throw new CliError(
      'USAGE',
      'backup copies the embedded SQLite store; this node uses PostgreSQL (store.url): use pg_dump, see docs/deploy.md',
    );
  }
  requireDataDir(ctx, config);
  const destination = resolve(file);
  // A backup refused anyway (no store, the file exists, no such directory) is left to backupSqlite to
  // report, without an entry; opening the store first would create an empty one.
  if (existsSync(join(config.dataDir, 'postwarden.db')) && !existsSync(destination) && existsSync(dirname(destination))) {
    const store = await openAdminStore(ctx, config);
    try {
      await (await cliAudit(config, store)).record({
        actor: ctx.who.actor,
        tenantId: null,
        action: 'store.backed_up',
        resource: { type: 'backup', id: destination },
        after: { destination },
      });
    } finally {
      await store.close();
    }
  }
  const { backupSqlite } = await import('../../store/index.js');
  const r = await backupSqlite({ dataDir: config.dataDir, destination, driver: config.store.sqliteDriver });
  ctx.out.result(r, () => [
    `Backed up ${r.source} to ${r.destination}: ${r.pages} pages, ${r.bytes} bytes, integrity ok.`,
    `Rows: ${Object.entries(r.counts)
      .map(([t, n]) => `${t} ${n}`)
      .join(', ')}`,
  ]);
}
