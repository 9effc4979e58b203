import type { Command } from 'commander';
import type { Act, CliContext } from '../context.js';
import { apiClientFor } from '../context.js';
import { collectList, parseCount } from '../option-parsers.js';
import { registerEventsExport } from './events-export.js';
import { type EventWire, formatData } from './messages.js';

/**
 * `postwarden events tail`: pages GET /v1/events by cursor until the spine is exhausted, printing
 * each event as it arrives (one JSON object per line with --json). With --follow it keeps polling
 * until SIGINT/SIGTERM. The cursor to resume from goes to stderr at the end, so stdout stays data.
 */
interface TailOptions {
  after?: string;
  type?: string[];
  follow?: boolean;
  limit?: number;
}

export const followIntervalMs = 1000;
/** A safety bound on one non-following run: at the maximum page size this is a billion events. */
const maxPages = 1_000_000;
/** The API's largest page (GET /v1/events?limit=). */
const maxPageSize = 1000;

export function registerEvents(program: Command, act: Act): void {
  const events = program.command('events').description('Read the events spine of a running server');
  events
    .command('tail')
    .description('Print events in commit order from a cursor (GET /v1/events)')
    .option('--after <cursor>', 'start after this cursor (a next_cursor printed before); default: the beginning')
    .option('--type <types>', 'only these event types, comma-separated (repeatable)', collectList)
    .option('--follow', 'keep polling for new events every second until interrupted')
    .option('--limit <n>', 'print at most this many events, then stop (also with --follow); default: all', parseCount)
    .action(act((ctx, cmd) => tail(ctx, cmd.opts<TailOptions>())));
  registerEventsExport(events, act);
}

async function tail(ctx: CliContext, o: TailOptions): Promise<void> {
  const client = apiClientFor(ctx);
  let remaining = o.limit ?? Number.POSITIVE_INFINITY;
  let cursor = o.after;
  let stopping = false;
  let wake: () => void = () => undefined;
  const dispose = o.follow
    ? ctx.deps.onSignal(() => {
        stopping = true;
        wake();
      })
    : () => undefined;
  try {
    for (let page = 0; page < maxPages && !stopping && remaining > 0; page++) {
      const limit = Math.min(remaining, maxPageSize);
      const { body } = await client.request<{ data: EventWire[]; next_cursor: string | null }>({
        method: 'GET',
        path: '/v1/events',
        query: { after: cursor, type: o.type?.join(','), limit: String(limit) },
      });
      // The cursor to resume from is the last event printed, so a limit never skips an event.
      for (const e of body.data.slice(0, limit)) {
        ctx.out.item(e, () => [formatEvent(e)]);
        cursor = e.cursor;
        remaining--;
      }
      if (remaining <= 0) break;
      if (body.data.length === limit) continue;
      if (!o.follow) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, followIntervalMs);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  } finally {
    dispose();
  }
  if (cursor && !ctx.out.json) ctx.out.note(`next cursor: ${cursor} (resume with --after ${cursor})`);
}

function formatEvent(e: EventWire): string {
  return [e.cursor, e.at, e.type.padEnd(20), e.message_id ?? '-', e.recipient_id ?? '-', formatData(e.data)].join('  ').trimEnd();
}
