import type { Command } from 'commander';
import { type Act, apiClientFor, type CliContext } from '../context.js';
import { CliError, table } from '../output.js';

/**
 * `postwarden delivery health|pause|resume|reset`: a client of /v1/delivery/health on a running
 * server (--url, --api-key with the admin scope). Pace and breakers live in the delivery node's
 * memory, so this asks the server rather than the store. --json prints the API's answer as it is.
 */
interface HealthWire {
  pacing: { enabled: boolean; ruleset_version: string; waiting_rules: string[] };
  sites: Array<{
    pool: string;
    site: string;
    provider: string | null;
    state: string;
    breaker: { state: string; retry_at: string | null };
    caps: { per_minute: number | null; concurrency: number | null; max_connections: number };
    rates: { attempts_last_minute: number; throttled_last_minute: number };
    why: string;
    next_step_at: string | null;
  }>;
  overrides: Array<{ target: string; pool: string | null; reason: string; actor: string; until: string | null }>;
}

function healthLines(h: HealthWire): string[] {
  const head = `pacing ${h.pacing.enabled ? 'on' : 'off'} (rules/pacing.yaml ${h.pacing.ruleset_version})${
    h.pacing.waiting_rules.length ? `; waiting for the ledger: ${h.pacing.waiting_rules.join(', ')}` : ''
  }`;
  const sites = h.sites.length
    ? table([
        ['POOL', 'SITE', 'PROVIDER', 'STATE', 'BREAKER', 'CAP/MIN', 'CONNS', 'LAST MIN', 'WHY'],
        ...h.sites.map((s) => [
          s.pool,
          s.site,
          s.provider ?? '-',
          s.state,
          s.breaker.state,
          s.caps.per_minute === null ? '-' : String(s.caps.per_minute),
          String(s.caps.max_connections),
          `${s.rates.attempts_last_minute} (${s.rates.throttled_last_minute} throttled)`,
          s.why || '-',
        ]),
      ])
    : ['No destination has been paced or troubled on this node.'];
  const overrides = h.overrides.map(
    (o) => `paused: ${o.target}${o.pool ? ` (pool ${o.pool})` : ''} by ${o.actor} until ${o.until ?? 'resumed'}: ${o.reason}`,
  );
  return [head, ...sites, ...overrides];
}

export function registerDelivery(program: Command, act: Act): void {
  const d = program.command('delivery').description('Pacing and breakers per egress pool and site (a client of /v1/delivery/health)');
  const request = async (ctx: CliContext, path: string, body?: unknown) =>
    (
      await apiClientFor(ctx).request<HealthWire>({
        method: body === undefined ? 'GET' : 'POST',
        path,
        ...(body === undefined ? {} : { body }),
      })
    ).body;

  d.command('health')
    .description('Per pool and site: state, caps, breaker, last minute, why; and the pauses in force')
    .action(
      act(async (ctx) => {
        const h = await request(ctx, '/v1/delivery/health');
        ctx.out.result(h, () => healthLines(h));
      }),
    );

  const override = (name: 'pause' | 'resume' | 'reset', description: string) => {
    const cmd = d
      .command(name)
      .description(description)
      .argument('<site>', 'a destination site (as `delivery health` lists it) or a provider key (gmail, microsoft, …)')
      .requiredOption('--reason <text>', 'why (kept on the pacing.changed event)')
      .option('--pool <name>', 'only this egress pool');
    if (name === 'pause') cmd.option('--minutes <n>', 'resume by itself after this long');
    cmd.action(
      act(async (ctx, c) => {
        const o = c.opts<{ reason: string; pool?: string; minutes?: string }>();
        const minutes = o.minutes === undefined ? undefined : Number(o.minutes);
        if (minutes !== undefined && !(Number.isInteger(minutes) && minutes >= 1))
          throw new CliError('USAGE', '--minutes: expected a whole number of minutes ≥ 1');
        const site = encodeURIComponent(c.processedArgs[0] as string);
        const h = await request(ctx, `/v1/delivery/health/${site}/${name}`, {
          reason: o.reason,
          ...(o.pool ? { pool: o.pool } : {}),
          ...(minutes !== undefined ? { minutes } : {}),
        });
        ctx.out.result(h, () => healthLines(h));
      }),
    );
  };
  override('pause', 'Hold mail to a site or provider (every pool, or --pool) until resumed or for --minutes');
  override('resume', 'Lift the pauses of a site or provider');
  override('reset', 'Forget the pace, pauses and breakers of a site or provider');
}
