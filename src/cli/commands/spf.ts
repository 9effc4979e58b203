import { isIP } from 'node:net';
import type { Command } from 'commander';
import type { Act } from '../context.js';
import { configFor } from '../context.js';
import { CliError } from '../output.js';

/**
 * `postwarden spf check --ip IP --sender ADDR [--helo NAME]`: RFC 7208 check_host() as a receiver
 * runs it, through the configured resolver (--dns-server). The SPF result is a finding, not an
 * error: the command exits 0 whatever the result and prints it with its explanation and trace.
 */
export function registerSpf(program: Command, act: Act): void {
  const spf = program.command('spf').description('SPF (RFC 7208) tools');
  spf
    .command('check')
    .description('Evaluate check_host() for a client IP and a MAIL FROM (or the HELO identity when --sender is empty)')
    .requiredOption('--ip <ip>', 'the SMTP client address (IPv4 or IPv6)')
    .requiredOption('--sender <address>', 'MAIL FROM address ("" for the null reverse-path: the HELO identity is checked)')
    .option('--helo <name>', 'HELO/EHLO name (%{h}; the identity checked for a null sender)', 'unknown')
    .action(
      act(async (ctx, cmd) => {
        const o = cmd.opts<{ ip: string; sender: string; helo: string }>();
        if (!isIP(o.ip)) throw new CliError('USAGE', `--ip ${o.ip} is not an IP address`);
        const config = await configFor(ctx);
        const [{ createResolver }, { checkSpf }, { systemClock }] = await Promise.all([
          import('../../dns/index.js'),
          import('../../identity/index.js'),
          import('../../core/index.js'),
        ]);
        const resolver = createResolver({
          servers: config.dns.servers,
          resolvConf: config.dns.resolvConf,
          timeoutMs: config.dns.timeoutMs,
          clock: systemClock,
        });
        const r = await checkSpf(
          { ip: o.ip, mailFrom: o.sender, helo: o.helo },
          { resolver, clock: systemClock, receiver: config.server.hostname },
        );
        const explanation =
          r.explanation ??
          (r.problem
            ? r.problem
            : r.mechanism
              ? `matched ${r.mechanism} in the record of ${r.domain}`
              : `no term matched in the record of ${r.domain}`);
        ctx.out.result(
          {
            result: r.result,
            explanation,
            identity: r.identity,
            domain: r.domain,
            mechanism: r.mechanism ?? null,
            record: r.record ?? null,
            exp: r.explanation ?? null,
            problem: r.problem ?? null,
            lookups: r.lookups,
            void_lookups: r.voidLookups,
            trace: r.trace,
            resolver: resolver.describe(),
          },
          () => [
            `${r.result}: ${explanation}`,
            ...(r.record ? [`record: ${r.record}`] : []),
            `lookups: ${r.lookups} (void ${r.voidLookups})`,
            ...r.trace.map((l) => `  ${l}`),
          ],
        );
      }),
    );
}
