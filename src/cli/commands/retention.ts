import type { Command } from 'commander';
import type { Act } from '../context.js';
import { apiClientFor } from '../context.js';

/**
 * `postwarden retention …`: retention, legal holds and erasure of a running server over its API
 * (docs/retention.md), so every change is audited with the key that made it.
 */
interface Receipt {
  id: string;
  state: string;
  erased: { table: string; rows: number }[];
  kept: { table: string; rows: number; reason: string }[];
}

export function registerRetention(program: Command, act: Act): void {
  const ret = program.command('retention').description('Retention per data class, legal holds and erasure (docs/retention.md)');

  ret
    .command('status')
    .description('Retention per data class, conflicts and active legal holds (GET /v1/retention)')
    .action(
      act(async (ctx) => {
        const { body } = await apiClientFor(ctx).request<{
          policies: { data_class: string; max_days: number | null; min_days: number | null; custom: boolean }[];
          classes?: { name: string; max_days: number | null; min_days: number | null }[];
          holds: { id: string; kind: string; reason: string }[];
        }>({ method: 'GET', path: '/v1/retention' });
        ctx.out.result(body, () => [
          ...body.policies.map(
            (p) => `${p.data_class.padEnd(17)} max ${p.max_days ?? 'never'}  min ${p.min_days ?? '-'}${p.custom ? '' : '  (default)'}`,
          ),
          ...(body.classes ?? []).map((c) => `class ${c.name.padEnd(11)} max ${c.max_days ?? 'never'}  min ${c.min_days ?? '-'}`),
          ...body.holds.map((h) => `hold ${h.id} ${h.kind}: ${h.reason}`),
        ]);
      }),
    );

  ret
    .command('erase')
    .description("Erase an address from the tenant's stored data and print the receipt (POST /v1/erasures)")
    .requiredOption('--address <email>', 'the data subject address')
    .action(
      act(async (ctx, cmd) => {
        const { address } = cmd.opts<{ address: string }>();
        const { body } = await apiClientFor(ctx).request<Receipt>({ method: 'POST', path: '/v1/erasures', body: { address } });
        ctx.out.result(body, () => [
          `Erasure ${body.id}: ${body.state}`,
          ...body.erased.map((e) => `erased  ${e.table}: ${e.rows}`),
          ...body.kept.map((k) => `kept    ${k.table}: ${k.rows} (${k.reason})`),
        ]);
      }),
    );

  ret
    .command('hold')
    .description('Place a legal hold (POST /v1/legal-holds)')
    .requiredOption('--kind <kind>', 'tenant, message, address or range')
    .requiredOption('--reason <text>', 'why the data is held')
    .option('--message <id>', 'message id (kind message)')
    .option('--address <email>', 'address (kind address)')
    .option('--from <date-time>', 'range start (kind range)')
    .option('--until <date-time>', 'range end (kind range)')
    .action(
      act(async (ctx, cmd) => {
        const o = cmd.opts<{ kind: string; reason: string; message?: string; address?: string; from?: string; until?: string }>();
        const { body } = await apiClientFor(ctx).request<{ id: string }>({
          method: 'POST',
          path: '/v1/legal-holds',
          body: { kind: o.kind, reason: o.reason, message_id: o.message, address: o.address, from: o.from, until: o.until },
        });
        ctx.out.result(body, () => [`Placed legal hold ${body.id}.`]);
      }),
    );

  ret
    .command('release')
    .description('Release a legal hold (DELETE /v1/legal-holds/{id})')
    .argument('<id>', 'hold id (hld_…)')
    .action(
      act(async (ctx, cmd) => {
        const id = cmd.args[0]!;
        const { body } = await apiClientFor(ctx).request<{ id: string }>({
          method: 'DELETE',
          path: `/v1/legal-holds/${encodeURIComponent(id)}`,
        });
        ctx.out.result(body, () => [`Released legal hold ${body.id}.`]);
      }),
    );
}
