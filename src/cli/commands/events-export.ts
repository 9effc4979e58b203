import { once } from 'node:events';
import { createWriteStream, renameSync, rmSync } from 'node:fs';
import type { Command } from 'commander';
import type { Act, CliContext } from '../context.js';
import { apiClientFor } from '../context.js';
import { collectList } from '../option-parsers.js';
import { CliError } from '../output.js';

/**
 * `postwarden events export`: streams GET /v1/events/export to a file (or stdout) with backpressure,
 * counting rows as they pass. On a terminal a progress bar redraws one stderr line; otherwise a
 * plain line at the end. The server announces the row count first, so an export cut short (a
 * dropped connection) is told apart from a complete one: it fails and the partial file is removed.
 * A file is written beside its name (`<file>.partial`) and renamed when complete.
 */
interface ExportOptions {
  from?: string;
  to?: string;
  types?: string[];
  format: 'ndjson' | 'csv';
  output?: string;
}

export function registerEventsExport(events: Command, act: Act): void {
  events
    .command('export')
    .description('Export events as NDJSON or CSV for a warehouse (GET /v1/events/export; docs/exports.md)')
    .option('--from <time>', 'events appended at or after this ISO 8601 time')
    .option('--to <time>', 'events appended before this ISO 8601 time')
    .option('--types <types>', 'only these event types, comma-separated (repeatable)', collectList)
    .option('--format <format>', 'ndjson (default) or csv', 'ndjson')
    .option('--output <file>', 'write to this file instead of stdout')
    .action(act((ctx, cmd) => exportEvents(ctx, cmd.opts<ExportOptions>())));
}

/** Counts rows in a stream of chunks: lines for NDJSON; CSV records, minding quoted line breaks. */
export function rowCounter(format: 'ndjson' | 'csv') {
  let rows = 0;
  let quoted = false;
  return {
    add(chunk: Uint8Array): void {
      for (let i = 0; i < chunk.length; i++) {
        const c = chunk[i];
        if (c === 0x22 && format === 'csv') quoted = !quoted;
        else if (c === 0x0a && !quoted) rows++;
      }
    },
    /** Rows so far (a CSV's header line is not a row). */
    rows: () => (format === 'csv' ? Math.max(0, rows - 1) : rows),
  };
}

async function exportEvents(ctx: CliContext, o: ExportOptions): Promise<void> {
  if (o.format !== 'ndjson' && o.format !== 'csv') throw new CliError('USAGE', `--format must be ndjson or csv, not ${o.format}`);
  const res = await apiClientFor(ctx).open({
    path: '/v1/events/export',
    query: { from: o.from, to: o.to, types: o.types?.join(','), format: o.format },
  });
  const expected = Number(res.headers.get('postwarden-event-count') ?? Number.NaN);
  const lastCursor = res.headers.get('postwarden-last-cursor');
  const partial = o.output ? `${o.output}.partial` : undefined;
  let file: NodeJS.WritableStream | undefined;
  if (partial) {
    const stream = createWriteStream(partial);
    await Promise.race([once(stream, 'open'), once(stream, 'error').then(([e]) => Promise.reject(e))]).catch((e: Error) => {
      throw new CliError('OUTPUT_UNWRITABLE', `cannot write ${o.output}: ${e.message}`);
    });
    file = stream;
  }
  const sink = file ?? ctx.deps.stdoutStream;
  const counter = rowCounter(o.format);
  const progress = progressReporter(ctx, expected);
  let bytes = 0;
  try {
    if (!res.body) throw new CliError('BAD_RESPONSE', 'the export answered without a body');
    for await (const chunk of res.body) {
      counter.add(chunk);
      bytes += chunk.length;
      if (sink) {
        // Backpressure: a slow disk or reader slows the download instead of filling memory.
        if (!sink.write(chunk)) await once(sink, 'drain');
      } else ctx.deps.stdout(Buffer.from(chunk).toString('utf8'));
      progress.update(counter.rows(), bytes);
    }
  } catch (e) {
    progress.done();
    if (file) await closeQuietly(file, partial!);
    if (e instanceof CliError) throw e;
    throw new CliError(
      'EXPORT_INCOMPLETE',
      `the export was cut short after ${counter.rows()} of ${expected} events (${(e as Error).message})`,
    );
  }
  progress.done();
  if (Number.isFinite(expected) && counter.rows() !== expected) {
    if (file) await closeQuietly(file, partial!);
    throw new CliError('EXPORT_INCOMPLETE', `the export ended after ${counter.rows()} of ${expected} events; run it again`);
  }
  if (file) {
    file.end();
    await once(file, 'finish');
    renameSync(partial!, o.output!);
  }
  const summary = { events: counter.rows(), bytes, format: o.format, output: o.output ?? null, last_cursor: lastCursor };
  if (ctx.out.json && o.output) ctx.out.result(summary, () => []);
  else
    ctx.out.note(
      `exported ${summary.events} events (${formatBytes(bytes)})${o.output ? ` to ${o.output}` : ''}; last cursor ${lastCursor}`,
    );
}

async function closeQuietly(file: NodeJS.WritableStream, path: string): Promise<void> {
  file.end();
  await once(file, 'close').catch(() => undefined);
  rmSync(path, { force: true });
}

/** A bar redrawn at most ten times a second on a terminal; nothing until the end otherwise. */
function progressReporter(ctx: CliContext, total: number) {
  const tty = ctx.deps.stderrIsTTY === true && !ctx.out.json;
  const started = Date.now();
  let last = 0;
  let drawn = false;
  const draw = (rows: number, bytes: number) => {
    const share = total > 0 ? Math.min(1, rows / total) : 1;
    const width = 30;
    const filled = Math.round(share * width);
    const secs = Math.max(0.001, (Date.now() - started) / 1000);
    ctx.deps.stderr(
      `\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(share * 100).toFixed(0).padStart(3)}%  ${rows}/${total} events  ${formatBytes(bytes)}  ${Math.round(rows / secs)}/s `,
    );
    drawn = true;
  };
  let latest: [number, number] = [0, 0];
  return {
    update(rows: number, bytes: number) {
      latest = [rows, bytes];
      if (!tty) return;
      const now = Date.now();
      if (now - last < 100) return;
      last = now;
      draw(rows, bytes);
    },
    done() {
      if (!tty) return;
      if (drawn || latest[0] > 0) draw(...latest);
      ctx.deps.stderr('\n');
    },
  };
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}
