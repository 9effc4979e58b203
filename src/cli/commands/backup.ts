import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { Act, CliContext } from '../context.js';
import { configFor, requireDataDir } from '../context.js';
import { CliError } from '../output.js';

/**
 * `postwarden backup <file>`: an online, consistent copy of the SQLite store while the server runs
 * (SQLite's backup API), checked before it is reported. PostgreSQL is backed up with its own tools
 * (pg_dump); docs/deploy.md has both.
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
  const { backupSqlite } = await import('../../store/index.js');
  const r = await backupSqlite({ dataDir: config.dataDir, destination: resolve(file), driver: config.store.sqliteDriver });
  ctx.out.result(r, () => [
    `Backed up ${r.source} to ${r.destination}: ${r.pages} pages, ${r.bytes} bytes, integrity ok.`,
    `Rows: ${Object.entries(r.counts)
      .map(([t, n]) => `${t} ${n}`)
      .join(', ')}`,
  ]);
}
