import type { Command } from 'commander';
import type { Act, CliContext } from '../context.js';
import { apiClientFor } from '../context.js';
import { collectList, parseLimit } from '../option-parsers.js';
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

export function registerEvents(program: Command, act: Act): void {
  const events = program.command('events').description('Read the events spine of a running server');
  events
    .command('tail')
    .description('Print events in commit order from a cursor (GET /v1/events)')
    .option('--after <cursor>', 'start after this cursor (a next_cursor printed before); default: the beginning')
    .option('--type <types>', 'only these event types, comma-separated (repeatable)', collectList)
    .option('--follow', 'keep polling for new events every second until interrupted')
    .option('--limit <n>', 'events per request, 1-1000', parseLimit, 100)
    .action(act((ctx, cmd) => tail(ctx, cmd.opts<TailOptions>())));
}

async function tail(ctx: CliContext, o: TailOptions): Promise<void> {
  const client = apiClientFor(ctx);
  const limit = o.limit ?? 100;
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
    for (let page = 0; page < maxPages && !stopping; page++) {
      const { body } = await client.request<{ data: EventWire[]; next_cursor: string | null }>({
        method: 'GET',
        path: '/v1/events',
        query: { after: cursor, type: o.type?.join(','), limit: String(limit) },
      });
      for (const e of body.data) ctx.out.item(e, () => [formatEvent(e)]);
      if (body.next_cursor) cursor = body.next_cursor;
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
