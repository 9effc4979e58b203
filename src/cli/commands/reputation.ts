import type { Command } from 'commander';
import type { Act, CliContext } from '../context.js';
import { apiClientFor } from '../context.js';

/**
 * `postwarden reputation`: the reputation ledger of a running server (GET /v1/reputation), one line
 * per stream, identity and provider, with the 24-hour numbers, the state and why; --json prints the
 * API's entries as they are.
 */
interface ReputationOptions {
  provider?: string;
  domain?: string;
  stream?: string;
}

interface Rates {
  complaint_rate: number | null;
  hard_bounce_rate: number | null;
  block_rate: number | null;
}
interface Entry {
  identity: { domain: string; selector: string; pool: string; return_path: string };
  provider: string;
  stream: string;
  state: string;
  reason: string;
  windows: Record<'1h' | '24h' | '7d', { counts: { attempts: number; delivered: number; complaints: number }; rates: Rates }>;
}

export function registerReputation(program: Command, act: Act): void {
  program
    .command('reputation')
    .description('Show the reputation ledger per identity and provider (GET /v1/reputation)')
    .option('--provider <key>', 'only this provider (rules/providers.yaml), e.g. gmail')
    .option('--domain <domain>', 'only this sending domain')
    .option('--stream <stream>', 'only this stream: transactional, marketing or cold')
    .action(act((ctx, cmd) => show(ctx, cmd.opts<ReputationOptions>())));
}

const pct = (x: number | null) => (x === null ? '-' : `${(x * 100).toFixed(2)}%`);

async function show(ctx: CliContext, o: ReputationOptions): Promise<void> {
  const { body } = await apiClientFor(ctx).request<{ data: Entry[] }>({
    method: 'GET',
    path: '/v1/reputation',
    query: { provider: o.provider, domain: o.domain, stream: o.stream },
  });
  ctx.out.result(body, () =>
    body.data.length
      ? body.data.map((e) => {
          const d = e.windows['24h'];
          const id = `${e.identity.domain} s=${e.identity.selector} pool=${e.identity.pool} rp=${e.identity.return_path}`;
          return [
            e.provider.padEnd(12),
            e.stream.padEnd(13),
            e.state.padEnd(9),
            `24h: ${d.counts.attempts} sent, ${d.counts.delivered} delivered, complaints ${pct(d.rates.complaint_rate)}, hard bounces ${pct(d.rates.hard_bounce_rate)}, blocks ${pct(d.rates.block_rate)}`,
            id,
            e.reason,
          ].join('  ');
        })
      : ['no reputation entries yet'],
  );
}
