import { readFileSync, writeFileSync } from 'node:fs';
import { type Command, Option } from 'commander';
import { type Stream, streams, suppressionReasons, suppressionScopes, systemClock, validationError } from '../../core/index.js';
import type { EntryInput, ImportFormat, SuppressionChange, Suppressions } from '../../feedback/index.js';
import { type Act, type CliContext, cliAudit, configFor, openAdminStore } from '../context.js';
import { parseLimit } from '../option-parsers.js';
import { CliError, table } from '../output.js';

/**
 * `postwarden suppressions list|add|remove|export|import|history`: the suppression list, straight
 * in the store (like `domains`), so it works before a server runs and for the operator's global
 * list (--global), which no API key can touch. Changes are audited as the host operator
 * (`operator:osuser@host` in the list's history) or the user run `--as`.
 */
async function withSuppressions<T>(ctx: CliContext, owner: string | null, fn: (s: Suppressions) => Promise<T>): Promise<T> {
  const config = await configFor(ctx);
  const { createSuppressions } = await import('../../feedback/index.js');
  const store = await openAdminStore(ctx, config);
  try {
    if (owner !== null && !(await store.tenants.get(owner))) throw new CliError('USAGE', `tenant ${owner} does not exist`);
    return await fn(createSuppressions({ store, clock: systemClock, audit: await cliAudit(config, store) }));
  } finally {
    await store.close();
  }
}

/** --tenant <id> or --global: whose list. */
function ownerOf(cmd: Command): string | null {
  const o = cmd.opts<{ tenant?: string; global?: boolean }>();
  if (o.global && o.tenant) throw new CliError('USAGE', 'give --tenant or --global, not both');
  if (!o.global && !o.tenant) throw new CliError('USAGE', 'give --tenant <id> (the tenant’s list) or --global (the operator’s list)');
  return o.global ? null : o.tenant!;
}

const withOwner = (c: Command) =>
  c.option('--tenant <id>', 'tenant id (ten_…): its tenant and identity entries').option('--global', 'the operator’s global list');

const json = async () => (await import('../../feedback/index.js')).suppressionJson;

function changeLine(c: SuppressionChange): string[] {
  const e = c.after ?? c.before;
  const where = e ? `${e.scope}${e.domain ? ` ${e.domain}` : ''}${e.stream ? ` ${e.stream}` : ''}` : '';
  return [new Date(c.at).toISOString(), c.action, c.address, where, c.reason ?? '', c.actor];
}

export function registerSuppressions(program: Command, act: Act): void {
  const sup = program.command('suppressions').description('The suppression list: addresses never sent to (works on the store directly)');

  withOwner(sup.command('list').description('List entries, oldest first'))
    .option('--address <email>', 'only this address')
    .addOption(new Option('--reason <reason>', 'only this reason').choices([...suppressionReasons]))
    .addOption(new Option('--scope <scope>', 'only this scope').choices([...suppressionScopes]))
    .option('--after <id>', 'next_cursor of the previous page')
    .option('--limit <n>', 'entries to print (one page; resume with --after next_cursor), 1-1000', parseLimit, 100)
    .action(
      act(async (ctx, cmd) => {
        const owner = ownerOf(cmd);
        const o = cmd.opts<{
          address?: string;
          reason?: string;
          scope?: 'global' | 'tenant' | 'identity';
          after?: string;
          limit: number;
        }>();
        const toJson = await json();
        const page = await withSuppressions(ctx, owner, (s) =>
          s.list(owner, { address: o.address, reason: o.reason, scope: o.scope, after: o.after, limit: o.limit }),
        );
        const data = page.data.map(toJson);
        ctx.out.result({ data, next_cursor: page.nextCursor }, () =>
          data.length
            ? table([
                ['ADDRESS', 'SCOPE', 'DOMAIN', 'STREAM', 'REASON', 'SOURCE', 'SINCE'],
                ...data.map((e) => [e.address, e.scope, e.domain ?? '', e.stream ?? '', e.reason, e.source, e.created_at]),
              ])
            : ['No suppressed addresses.'],
        );
      }),
    );

  withOwner(sup.command('add').description('Suppress addresses (an address already suppressed keeps its first entry)'))
    .argument('<address...>', 'email addresses')
    .addOption(new Option('--reason <reason>', 'why').choices([...suppressionReasons]).default('manual'))
    .addOption(
      new Option('--scope <scope>', 'where (default: identity with --domain/--stream, else tenant)').choices([...suppressionScopes]),
    )
    .option('--domain <domain>', 'identity scope: the sending domain')
    .addOption(new Option('--stream <stream>', 'identity scope: the stream').choices([...streams]))
    .option('--source <text>', 'where this came from (ticket, event id…)', 'cli')
    .action(
      act(async (ctx, cmd) => {
        const owner = ownerOf(cmd);
        const addresses = cmd.processedArgs[0] as string[];
        const o = cmd.opts<{ reason: string; scope?: string; domain?: string; stream?: Stream; source: string }>();
        const inputs: EntryInput[] = addresses.map((address) => ({ address, ...o }));
        const toJson = await json();
        const out = await withSuppressions(ctx, owner, (s) => s.add(owner, inputs, ctx.who.label, ctx.who.actor));
        const data = out.map((r) => ({ ...toJson(r.entry), created: r.created }));
        ctx.out.result({ data }, () =>
          data.map(
            (e) => `${e.created ? 'Suppressed' : 'Already suppressed'} ${e.address} (${e.scope}, ${e.reason}, since ${e.created_at})`,
          ),
        );
      }),
    );

  withOwner(sup.command('remove').description('Stop suppressing an address (every scope, or only the one named)'))
    .argument('<address>', 'email address')
    .addOption(new Option('--scope <scope>', 'only this scope').choices([...suppressionScopes]))
    .option('--domain <domain>', 'only the identity entry for this domain')
    .addOption(new Option('--stream <stream>', 'only the identity entry for this stream').choices([...streams]))
    .action(
      act(async (ctx, cmd) => {
        const owner = ownerOf(cmd);
        const address = cmd.processedArgs[0] as string;
        const o = cmd.opts<{ scope?: 'global' | 'tenant' | 'identity'; domain?: string; stream?: Stream }>();
        const toJson = await json();
        const removed = (
          await withSuppressions(ctx, owner, (s) =>
            s.unsuppress(owner, address, { scope: o.scope, domain: o.domain, stream: o.stream }, ctx.who.label, ctx.who.actor),
          )
        ).map(toJson);
        ctx.out.result({ removed }, () =>
          removed.map((e) => `Removed ${e.address} (${e.scope}${e.domain ? ` ${e.domain}` : ''}${e.stream ? ` ${e.stream}` : ''})`),
        );
      }),
    );

  withOwner(sup.command('export').description('Write the whole list as CSV or JSON (stdout, or --output)'))
    .addOption(new Option('--format <format>', 'csv or json (default json with --json, else csv)').choices(['csv', 'json']))
    .option('--output <file>', 'write to this file instead of stdout')
    .action(
      act(async (ctx, cmd) => {
        const owner = ownerOf(cmd);
        const o = cmd.opts<{ format?: 'csv' | 'json'; output?: string }>();
        const format = o.format ?? (ctx.out.json ? 'json' : 'csv');
        const { suppressionJson, suppressionsToCsv } = await import('../../feedback/index.js');
        const rows = await withSuppressions(ctx, owner, (s) => s.export(owner));
        const text =
          format === 'csv' ? suppressionsToCsv(rows) : `${JSON.stringify({ version: 1, entries: rows.map(suppressionJson) }, null, 2)}\n`;
        if (!o.output) return ctx.deps.stdout(text);
        writeFileSync(o.output, text);
        ctx.out.result({ file: o.output, format, entries: rows.length }, () => [
          `Wrote ${rows.length} entries to ${o.output} (${format}).`,
        ]);
      }),
    );

  withOwner(sup.command('import').description('Import a CSV or JSON export: every row or none'))
    .argument('<file>', 'CSV (header line first) or JSON ({entries:[…]} or a list)')
    .addOption(
      new Option(
        '--format <format>',
        'csv or json (ours), or postmark, resend, ses (their exports, CSV or JSON); default: csv or json from the file',
      ).choices([
        // The feedback module loads lazily; the type keeps this list to its formats.
        'csv',
        'json',
        'postmark',
        'resend',
        'ses',
      ] satisfies ImportFormat[]),
    )
    .option('--dry-run', 'validate and count, change nothing')
    .action(
      act(async (ctx, cmd) => {
        const owner = ownerOf(cmd);
        const file = cmd.processedArgs[0] as string;
        const o = cmd.opts<{ format?: ImportFormat; dryRun?: boolean }>();
        let text: string;
        try {
          text = readFileSync(file, 'utf8');
        } catch (e) {
          throw new CliError('INPUT_UNREADABLE', `cannot read ${file}: ${(e as Error).message}`);
        }
        const format = o.format ?? (/\.json$/i.test(file) || /^\s*[[{]/.test(text) ? 'json' : 'csv');
        const { readSuppressionImport } = await import('../../feedback/index.js');
        const { entries, errors, pathOf } = readSuppressionImport(text, format);
        if (errors.length) throw validationError(errors, `${file} has invalid entries`);
        const r = await withSuppressions(ctx, owner, (s) =>
          s.import(owner, entries, { dryRun: o.dryRun === true, actor: ctx.who.label, pathOf, who: ctx.who.actor }),
        );
        ctx.out.result({ batch: r.batch, dry_run: r.dryRun, rows: r.rows, added: r.added, existing: r.existing }, () => [
          `${r.dryRun ? 'Dry run: would import' : 'Imported'} ${r.rows} rows: ${r.added} added, ${r.existing} already suppressed.`,
        ]);
      }),
    );

  withOwner(sup.command('history').description('Every change to the list: who, what, when, before and after'))
    .option('--address <email>', 'only this address')
    .option('--after <id>', 'next_cursor of the previous page')
    .option('--limit <n>', 'changes to print (one page; resume with --after next_cursor), 1-1000', parseLimit, 100)
    .action(
      act(async (ctx, cmd) => {
        const owner = ownerOf(cmd);
        const o = cmd.opts<{ address?: string; after?: string; limit: number }>();
        const { suppressionChangeJson } = await import('../../feedback/index.js');
        const page = await withSuppressions(ctx, owner, (s) => s.history(owner, o));
        const data = page.data.map(suppressionChangeJson);
        ctx.out.result({ data, next_cursor: page.nextCursor }, () =>
          page.data.length ? table([['AT', 'ACTION', 'ADDRESS', 'WHERE', 'REASON', 'BY'], ...page.data.map(changeLine)]) : ['No changes.'],
        );
      }),
    );
}
