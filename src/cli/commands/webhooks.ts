import type { Command } from 'commander';
import { type Act, apiClientFor, type CliContext } from '../context.js';
import { collectList, parseLimit } from '../option-parsers.js';
import { CliError, table } from '../output.js';

/**
 * `postwarden webhooks list|create|show|update|delete|rotate-secret|test|attempts|replay`: a client
 * of /v1/webhooks on a running server (--url, --api-key; managing needs the admin scope). --json
 * prints the API's answer as it is.
 */
interface WebhookWire {
  id: string;
  url: string;
  description: string;
  events: string[] | null;
  streams: string[] | null;
  domains: string[] | null;
  batch_size: number;
  state: 'enabled' | 'disabled';
  disabled_reason: string | null;
  disabled_at: string | null;
  previous_secret_expires_at: string | null;
  created_at: string;
  updated_at: string;
  secret?: string;
}

interface AttemptWire {
  id: string;
  event_ids: string[];
  attempt: number;
  at: string;
  outcome: string;
  status: number | null;
  latency_ms: number;
  error: string | null;
  response_excerpt: string | null;
}

const all = (l: string[] | null) => (l?.length ? l.join(',') : '*');

function webhookLines(w: WebhookWire): string[] {
  return [
    `${w.id}  ${w.state}${w.disabled_reason ? ` (${w.disabled_reason})` : ''}`,
    `  url:         ${w.url}`,
    ...(w.description ? [`  description: ${w.description}`] : []),
    `  events:      ${all(w.events)}`,
    `  streams:     ${all(w.streams)}`,
    `  domains:     ${all(w.domains)}`,
    `  batch size:  ${w.batch_size}`,
    ...(w.previous_secret_expires_at ? [`  previous secret signs until ${w.previous_secret_expires_at}`] : []),
    ...(w.secret ? [`  secret:      ${w.secret}`, '  (shown once: store it now; it is never shown again)'] : []),
  ];
}

function attemptLine(a: AttemptWire): string[] {
  return [a.at, a.outcome, a.status === null ? '-' : String(a.status), `${a.latency_ms} ms`, a.event_ids.join(','), a.error ?? ''];
}

/** The filter and batch options create and update share. */
const withFilters = (c: Command) =>
  c
    .option('--event <type>', 'only this event type (repeatable, or comma-separated); default: all', collectList)
    .option('--stream <stream>', 'only messages of this stream (repeatable)', collectList)
    .option('--domain <domain>', 'only messages sent from this domain (repeatable)', collectList)
    .option('--description <text>', 'a note for people')
    .option('--batch-size <n>', 'events per POST (a JSON array above 1)', parseLimit);

interface FilterOptions {
  event?: string[];
  stream?: string[];
  domain?: string[];
  description?: string;
  batchSize?: number;
}

function filterBody(o: FilterOptions): Record<string, unknown> {
  return {
    ...(o.event ? { events: o.event } : {}),
    ...(o.stream ? { streams: o.stream } : {}),
    ...(o.domain ? { domains: o.domain } : {}),
    ...(o.description !== undefined ? { description: o.description } : {}),
    ...(o.batchSize !== undefined ? { batch_size: o.batchSize } : {}),
  };
}

async function call<T>(
  ctx: CliContext,
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
  path: string,
  extra: { body?: unknown; query?: Record<string, string | undefined> } = {},
) {
  return (await apiClientFor(ctx).request<T>({ method, path, ...extra })).body;
}

export function registerWebhooks(program: Command, act: Act): void {
  const wh = program.command('webhooks').description('Signed event delivery to your endpoints (a client of /v1/webhooks)');
  const id = (cmd: Command) => encodeURIComponent(cmd.processedArgs[0] as string);

  wh.command('list')
    .description('List the endpoints')
    .action(
      act(async (ctx) => {
        const body = await call<{ data: WebhookWire[] }>(ctx, 'GET', '/v1/webhooks');
        ctx.out.result(body, () =>
          body.data.length
            ? table([
                ['ID', 'STATE', 'URL', 'EVENTS', 'BATCH'],
                ...body.data.map((w) => [w.id, w.state, w.url, all(w.events), String(w.batch_size)]),
              ])
            : ['No webhook endpoints.'],
        );
      }),
    );

  withFilters(
    wh.command('create').description('Add an endpoint; prints its signing secret once').argument('<url>', 'where events are POSTed'),
  ).action(
    act(async (ctx, cmd) => {
      const body = await call<WebhookWire>(ctx, 'POST', '/v1/webhooks', {
        body: { url: cmd.processedArgs[0], ...filterBody(cmd.opts<FilterOptions>()) },
      });
      ctx.out.result(body, () => webhookLines(body));
    }),
  );

  wh.command('show')
    .description('One endpoint')
    .argument('<id>', 'wh_…')
    .action(
      act(async (ctx, cmd) => {
        const body = await call<WebhookWire>(ctx, 'GET', `/v1/webhooks/${id(cmd)}`);
        ctx.out.result(body, () => webhookLines(body));
      }),
    );

  withFilters(wh.command('update').description('Change an endpoint (options given replace the stored ones)').argument('<id>', 'wh_…'))
    .option('--url <url>', 'a new URL')
    .option('--enable', 're-enable a disabled endpoint')
    .option('--disable', 'stop sending to it')
    .action(
      act(async (ctx, cmd) => {
        const o = cmd.opts<FilterOptions & { url?: string; enable?: boolean; disable?: boolean }>();
        if (o.enable && o.disable) throw new CliError('USAGE', 'give --enable or --disable, not both');
        const patch = {
          ...filterBody(o),
          ...(o.url ? { url: o.url } : {}),
          ...(o.enable ? { disabled: false } : {}),
          ...(o.disable ? { disabled: true } : {}),
        };
        if (!Object.keys(patch).length) throw new CliError('USAGE', 'nothing to change: give at least one option');
        const body = await call<WebhookWire>(ctx, 'PATCH', `/v1/webhooks/${id(cmd)}`, { body: patch });
        ctx.out.result(body, () => webhookLines(body));
      }),
    );

  wh.command('delete')
    .description('Remove an endpoint (events still owed to it are given up)')
    .argument('<id>', 'wh_…')
    .action(
      act(async (ctx, cmd) => {
        await call(ctx, 'DELETE', `/v1/webhooks/${id(cmd)}`);
        ctx.out.result({ id: cmd.processedArgs[0], deleted: true }, () => [`Deleted ${cmd.processedArgs[0]}.`]);
      }),
    );

  wh.command('rotate-secret')
    .description('A new signing secret; the previous one keeps signing for the grace period')
    .argument('<id>', 'wh_…')
    .action(
      act(async (ctx, cmd) => {
        const body = await call<WebhookWire>(ctx, 'POST', `/v1/webhooks/${id(cmd)}/rotate-secret`);
        ctx.out.result(body, () => webhookLines(body));
      }),
    );

  wh.command('test')
    .description('POST a signed webhook.test event now and show the answer')
    .argument('<id>', 'wh_…')
    .action(
      act(async (ctx, cmd) => {
        const a = await call<AttemptWire>(ctx, 'POST', `/v1/webhooks/${id(cmd)}/test`);
        ctx.out.result(a, () => [
          `${a.outcome === 'succeeded' ? 'Delivered' : 'Failed'}: ${a.status ?? 'no answer'} in ${a.latency_ms} ms${a.error ? ` (${a.error})` : ''}`,
          ...(a.response_excerpt ? [`  answer: ${a.response_excerpt.slice(0, 200)}`] : []),
        ]);
        return a.outcome === 'succeeded' ? 0 : 1;
      }),
    );

  wh.command('attempts')
    .description('Delivery attempts, newest first')
    .argument('<id>', 'wh_…')
    .option('--before <cursor>', 'next_cursor of the previous page')
    .option('--limit <n>', 'attempts to print, 1-500', parseLimit, 50)
    .action(
      act(async (ctx, cmd) => {
        const o = cmd.opts<{ before?: string; limit: number }>();
        const body = await call<{ data: AttemptWire[]; next_cursor: string | null }>(ctx, 'GET', `/v1/webhooks/${id(cmd)}/attempts`, {
          query: { before: o.before, limit: String(o.limit) },
        });
        ctx.out.result(body, () =>
          body.data.length
            ? [
                ...table([['AT', 'OUTCOME', 'STATUS', 'LATENCY', 'EVENTS', 'ERROR'], ...body.data.map(attemptLine)]),
                ...(body.next_cursor ? [`More: --before ${body.next_cursor}`] : []),
              ]
            : ['No attempts yet.'],
        );
      }),
    );

  wh.command('replay')
    .description('Send the events of a window again, with their original ids')
    .argument('<id>', 'wh_…')
    .requiredOption('--from <time|cursor>', 'ISO time (inclusive) or cursor (exclusive)')
    .requiredOption('--to <time|cursor>', 'ISO time (exclusive) or cursor (inclusive)')
    .option('--type <type>', 'only this event type (repeatable)', collectList)
    .option('--message <id>', 'only the events of this message')
    .action(
      act(async (ctx, cmd) => {
        const o = cmd.opts<{ from: string; to: string; type?: string[]; message?: string }>();
        const body = await call<{ replay_id: string; queued: number }>(ctx, 'POST', `/v1/webhooks/${id(cmd)}/replay`, {
          body: { from: o.from, to: o.to, ...(o.type ? { types: o.type } : {}), ...(o.message ? { message_id: o.message } : {}) },
        });
        ctx.out.result(body, () => [`Queued ${body.queued} event(s) again (${body.replay_id}).`]);
      }),
    );
}
