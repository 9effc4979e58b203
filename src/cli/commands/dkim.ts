import type { Command } from 'commander';
import type { Act } from '../context.js';
import { withDomains } from '../context.js';
import { table } from '../output.js';
import { findDomain, identityWire, recordLines, verificationLines } from './domains.js';

/** `postwarden dkim list|rotate|verify-dns`: a domain's selectors and their lifecycle. */

export function registerDkim(program: Command, act: Act): void {
  const dkim = program.command('dkim').description('DKIM selectors of a domain: list, rotate, check their DNS records');
  const target = (c: Command) =>
    c.requiredOption('--tenant <id>', 'tenant id (ten_…)').requiredOption('--domain <domain>', 'domain id (dom_…) or name');

  target(dkim.command('list').description('Selectors with algorithm, status (pending, active, retired) and dates')).action(
    act(async (ctx, cmd) => {
      const { tenant, domain } = cmd.opts<{ tenant: string; domain: string }>();
      const keys = await withDomains(ctx, async (s, domains) => domains.listKeys(tenant, (await findDomain(s, tenant, domain)).id));
      const { dkimKeyJson } = await identityWire();
      ctx.out.result({ data: keys.map(dkimKeyJson) }, () =>
        table([
          ['SELECTOR', 'ALGORITHM', 'STATUS', 'CREATED', 'ACTIVATED', 'RETIRED'],
          ...keys
            .map(dkimKeyJson)
            .map((k) => [k.selector, k.algorithm, k.status, k.created_at ?? '', k.activated_at ?? '-', k.retired_at ?? '-']),
        ]),
      );
    }),
  );

  target(dkim.command('rotate').description('Create the next selector (pending); signing switches once its record verifies')).action(
    act(async (ctx, cmd) => {
      const { tenant, domain } = cmd.opts<{ tenant: string; domain: string }>();
      const { keys, records } = await withDomains(ctx, async (s, domains) => {
        const d = await findDomain(s, tenant, domain);
        const keys = await domains.rotate(tenant, d.id, ctx.who.actor);
        const records = (await domains.dnsRecords(tenant, d.id)).filter((r) => keys.some((k) => k.selector === r.selector));
        return { keys, records };
      });
      const { dkimKeyJson, recordJson } = await identityWire();
      ctx.out.result({ data: keys.map(dkimKeyJson), dns_records: records.map(recordJson) }, () => [
        `Created ${keys.map((k) => k.selector).join(', ')} (pending). Publish:`,
        ...recordLines(records),
        'Signing switches once it verifies (postwarden dkim verify-dns, or the schedule).',
      ]);
    }),
  );

  target(dkim.command('verify-dns').description('Check the DKIM records in live DNS; published pending keys become active')).action(
    act(async (ctx, cmd) => {
      const { tenant, domain } = cmd.opts<{ tenant: string; domain: string }>();
      const v = await withDomains(ctx, async (s, domains) =>
        domains.verify(tenant, (await findDomain(s, tenant, domain)).id, ctx.who.actor),
      );
      const only = { ...v, records: v.records.filter((r) => r.kind === 'dkim') };
      only.verified = only.records.every((r) => r.status === 'ok');
      const { verificationJson } = await identityWire();
      ctx.out.result(verificationJson(only), () => verificationLines(only));
    }),
  );
}
