import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { validationError } from '../../core/index.js';
import type { PostureFinding, TransportTlsStats } from '../../posture/index.js';
import type { Act } from '../context.js';
import { type CliContext, cliAudit, configFor, openAdminStore } from '../context.js';
import { collectList } from '../option-parsers.js';
import { CliError, table } from '../output.js';

/**
 * `postwarden dns audit|report|history|watch|unwatch|approved-mx`. Audits and reports run here,
 * against the configured DNS servers (`--dns-server`, the global option); the AD bit those servers
 * set is what the DNSSEC verdicts rest on, so point them at a validating resolver over a trusted
 * path. History, the watch list and approved MX servers live in the store (like `domains`).
 */
async function auditLocally(ctx: CliContext, domain: string, selectors: string[], approvedMx?: string[]) {
  const config = await configFor(ctx);
  const [{ createResolver }, { auditDomain, createHttpsGetter }, { createHttpsPolicyFetcher }, { systemClock }] = await Promise.all([
    import('../../dns/index.js'),
    import('../../posture/index.js'),
    import('../../transport-policy/index.js'),
    import('../../core/index.js'),
  ]);
  const resolver = createResolver({
    servers: config.dns.servers,
    resolvConf: config.dns.resolvConf,
    timeoutMs: config.dns.timeoutMs,
    clock: systemClock,
  });
  const timeoutMs = config.posture.httpsTimeoutMs;
  return auditDomain(
    domain,
    {
      resolver,
      clock: systemClock,
      fetchPolicy: createHttpsPolicyFetcher({ resolver, timeoutMs }),
      fetchHttps: createHttpsGetter({ resolver, timeoutMs }),
      queryTimeoutMs: config.posture.queryTimeoutMs,
    },
    { selectors, ...(approvedMx?.length ? { approvedMx } : {}) },
  );
}

async function withMonitor<T>(
  ctx: CliContext,
  fn: (m: import('../../posture/index.js').PostureMonitor, tenantId: string) => Promise<T>,
  tenantId: string,
  opts: { audited?: boolean } = {},
): Promise<T> {
  const config = await configFor(ctx);
  const [{ createPostureMonitor }, { createResolver }, { createHttpsPolicyFetcher }, { systemClock, PostwardenError }] = await Promise.all([
    import('../../posture/index.js'),
    import('../../dns/index.js'),
    import('../../transport-policy/index.js'),
    import('../../core/index.js'),
  ]);
  const store = await openAdminStore(ctx, config);
  try {
    if (!(await store.tenants.get(tenantId))) throw new PostwardenError('NOT_FOUND', `tenant ${tenantId} does not exist`, { id: tenantId });
    const resolver = createResolver({
      servers: config.dns.servers,
      resolvConf: config.dns.resolvConf,
      timeoutMs: config.dns.timeoutMs,
      clock: systemClock,
    });
    const { createHttpsGetter } = await import('../../posture/index.js');
    const monitor = createPostureMonitor({
      store,
      clock: systemClock,
      // Changes (watch list, approved MX) are audited as the one who runs the command.
      ...(opts.audited ? { audit: await cliAudit(config, store) } : {}),
      resolver,
      fetchPolicy: createHttpsPolicyFetcher({ resolver, timeoutMs: config.posture.httpsTimeoutMs }),
      fetchHttps: createHttpsGetter({ resolver, timeoutMs: config.posture.httpsTimeoutMs }),
      queryTimeoutMs: config.posture.queryTimeoutMs,
      intervalMs: config.posture.intervalMinutes * 60_000,
    });
    return await fn(monitor, tenantId);
  } finally {
    await store.close();
  }
}

const findingLines = (findings: PostureFinding[]) =>
  findings.length
    ? findings.flatMap((f) => [
        `${f.severity.toUpperCase().padEnd(8)} ${f.id}  ${f.found}`,
        ...(f.fix ? [`         fix: ${f.fix.split('\n').join('\n              ')}`] : []),
      ])
    : ['No findings.'];

function readTlsStats(file: string | undefined): TransportTlsStats | undefined {
  if (!file) return undefined;
  let v: Partial<TransportTlsStats>;
  try {
    v = JSON.parse(readFileSync(file, 'utf8')) as Partial<TransportTlsStats>;
  } catch (e) {
    throw new CliError('INPUT_UNREADABLE', `cannot read ${file}: ${(e as Error).message}`);
  }
  const nums = ['deliveries', 'tlsShare', 'verifiedShare', 'mtaStsShare', 'daneShare'] as const;
  const bad = nums.filter((k) => typeof v[k] !== 'number');
  if (typeof v.period !== 'string' || bad.length) {
    throw validationError(
      [
        ...(typeof v.period !== 'string' ? [{ path: '/period', message: 'must be a string' }] : []),
        ...bad.map((k) => ({ path: `/${k}`, message: 'must be a number' })),
      ],
      `${file} is not a TLS statistics document`,
    );
  }
  return v as TransportTlsStats;
}

export function registerDns(program: Command, act: Act): void {
  const dns = program.command('dns').description('DNS posture: audit a mail domain, evidence reports, change history');

  dns
    .command('audit')
    .description('Audit a domain: MX, SPF, DKIM, DMARC, MTA-STS, TLS-RPT, DNSSEC/DANE, BIMI (uses --dns-server)')
    .argument('<domain>', 'domain name, e.g. example.com')
    .option('--selectors <list>', 'DKIM selectors to check (comma-separated, repeatable)', collectList)
    .option('--approved-mx <list>', 'approved MX host patterns (comma-separated, repeatable)', collectList)
    .action(
      act(async (ctx, cmd) => {
        const [domain] = cmd.processedArgs as [string];
        const o = cmd.opts<{ selectors?: string[]; approvedMx?: string[] }>();
        const audit = await auditLocally(ctx, domain, o.selectors ?? [], o.approvedMx);
        ctx.out.result(audit, () => [
          `DNS posture of ${audit.domain} at ${audit.auditedAt} via ${audit.resolver} (${audit.durationMs} ms)`,
          `Findings: ${Object.entries(audit.summary)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')}`,
          '',
          ...findingLines(audit.findings),
          '',
          'Authorized senders (SPF):',
          ...(audit.senders.length ? audit.senders.map((s) => `  ${s.service}  ${s.mechanism}`) : ['  none']),
        ]);
      }),
    );

  dns
    .command('report')
    .description('Render an evidence report (queries, answers, findings, control mapping, SHA-256 digest)')
    .argument('<domain>', 'domain name')
    .option('--format <format>', 'html, md or json', 'html')
    .option('--selectors <list>', 'DKIM selectors to check', collectList)
    .option('--approved-mx <list>', 'approved MX host patterns', collectList)
    .option('--tls-stats <file>', 'JSON { period, deliveries, tlsShare, verifiedShare, mtaStsShare, daneShare } to include')
    .option('--output <file>', 'write the report to a file instead of stdout')
    .action(
      act(async (ctx, cmd) => {
        const [domain] = cmd.processedArgs as [string];
        const o = cmd.opts<{ format: string; selectors?: string[]; approvedMx?: string[]; tlsStats?: string; output?: string }>();
        if (!['html', 'md', 'json'].includes(o.format)) throw new CliError('USAGE', `--format must be html, md or json, not ${o.format}`);
        const transportTls = readTlsStats(o.tlsStats);
        const audit = await auditLocally(ctx, domain, o.selectors ?? [], o.approvedMx);
        const { buildReport, renderReport } = await import('../../posture/index.js');
        const report = buildReport(audit, { generatedAt: audit.auditedAt, ...(transportTls ? { transportTls } : {}) });
        const text = renderReport(report, o.format as 'html' | 'md' | 'json');
        if (o.output) {
          writeFileSync(o.output, text);
          ctx.out.result({ file: o.output, format: o.format, digest: report.digest }, () => [
            `Wrote ${o.output} (sha256 ${report.digest})`,
          ]);
        } else ctx.deps.stdout(text);
      }),
    );

  dns
    .command('history')
    .description("A domain's snapshots, changes and alerts, oldest first (reads the store)")
    .argument('<domain>', 'domain name')
    .requiredOption('--tenant <id>', 'tenant id (ten_…)')
    .option('--limit <n>', 'newest snapshots to show', '50')
    .action(
      act(async (ctx, cmd) => {
        const [domain] = cmd.processedArgs as [string];
        const o = cmd.opts<{ tenant: string; limit: string }>();
        const entries = await withMonitor(ctx, (m, tenant) => m.history(tenant, domain, Math.max(1, Number(o.limit) || 50)), o.tenant);
        ctx.out.result({ domain, data: entries }, () =>
          entries.length
            ? entries.flatMap((e) => [
                `${e.takenAt}  ${e.snapshotId}  ${e.findings.length} finding(s), ${e.changes.length} change(s)`,
                ...e.changes.map(
                  (c) =>
                    `    changed ${c.name} ${c.type}: ${c.before?.answers.join(' | ') ?? '(none)'} → ${c.after?.answers.join(' | ') ?? '(none)'}`,
                ),
                ...e.alerts.map((a) => `    ALERT ${a.severity} ${a.kind}: ${a.message}`),
              ])
            : [`No snapshots of ${domain} yet: the monitor audits managed and watched domains on its schedule.`],
        );
      }),
    );

  dns
    .command('watch')
    .description('Add a domain to the watch list: the monitor audits it on schedule')
    .argument('<domain>', 'domain name')
    .requiredOption('--tenant <id>', 'tenant id (ten_…)')
    .action(
      act(async (ctx, cmd) => {
        const [domain] = cmd.processedArgs as [string];
        const { tenant } = cmd.opts<{ tenant: string }>();
        const r = await withMonitor(ctx, (m, t) => m.watch(t, domain, ctx.who.actor), tenant, { audited: true });
        ctx.out.result(r, () => [r.added ? `Watching ${r.domain}.` : `${r.domain} was already watched.`]);
      }),
    );

  dns
    .command('unwatch')
    .description('Remove a domain from the watch list')
    .argument('<domain>', 'domain name')
    .requiredOption('--tenant <id>', 'tenant id (ten_…)')
    .action(
      act(async (ctx, cmd) => {
        const [domain] = cmd.processedArgs as [string];
        const { tenant } = cmd.opts<{ tenant: string }>();
        await withMonitor(ctx, (m, t) => m.unwatch(t, domain, ctx.who.actor), tenant, { audited: true });
        ctx.out.result({ domain, removed: true }, () => [`No longer watching ${domain}.`]);
      }),
    );

  dns
    .command('approved-mx')
    .description("Show or set the tenant's approved MX servers (patterns like mx.example.net or *.example.net)")
    .requiredOption('--tenant <id>', 'tenant id (ten_…)')
    .option('--set <list>', 'replace the list (comma-separated, repeatable)', collectList)
    .action(
      act(async (ctx, cmd) => {
        const o = cmd.opts<{ tenant: string; set?: string[] }>();
        const list = await withMonitor(
          ctx,
          async (m, t) => (o.set ? m.setApprovedMx(t, o.set, ctx.who.actor) : ((await m.approvedMx(t)) ?? null)),
          o.tenant,
          { audited: o.set !== undefined },
        );
        const rows = list ?? [];
        ctx.out.result({ approved_mx: list }, () =>
          list === null
            ? ['No approved MX list: any MX change raises an alert when a host appears that was not an MX before.']
            : table([['APPROVED MX'], ...rows.map((r) => [r])]),
        );
      }),
    );
}
