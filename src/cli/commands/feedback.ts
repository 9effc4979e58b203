import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Command } from 'commander';
import type { Feedback } from '../../feedback/index.js';
import type { Act } from '../context.js';
import { CliError, exitCodes, table } from '../output.js';

/**
 * `postwarden feedback parse` and `postwarden bounces classify`: the feedback parsers and the
 * bounce classifier offline, on files, with no server and no store. A maildir of bounces (cur/ and
 * new/) is a normal input; one unreadable file is reported and the batch goes on.
 */
export function registerFeedback(program: Command, act: Act): void {
  const feedback = program.command('feedback').description('Bounces, complaints and reports (works offline on files)');
  feedback
    .command('parse')
    .description('Detect and parse each file (or every file of a directory or maildir): DSN, ARF, DMARC, TLS-RPT, auto-reply')
    .argument('<paths...>', 'files, directories, or maildirs (cur/ and new/ are read)')
    .action(
      act(async (ctx, cmd) => {
        const [paths] = cmd.processedArgs as [string[]];
        const { parseFeedback, loadDefaultProviderMap, loadDefaultRuleset } = await import('../../feedback/index.js');
        const opts = { ruleset: loadDefaultRuleset(), providers: loadDefaultProviderMap() };
        let failed = 0;
        for (const file of await expand(paths)) {
          let out: Record<string, unknown>;
          try {
            if ('error' in file) throw new Error(file.error);
            const bytes = await readFile(file.path);
            out = { file: file.path, ...describe(await parseFeedback(bytes, { ...opts, filename: basename(file.path) })) };
          } catch (e) {
            failed++;
            out = { file: file.path, error: (e as Error).message };
          }
          ctx.out.item(out, () => [humanLine(out)]);
        }
        return failed ? exitCodes.noInput : exitCodes.ok;
      }),
    );

  const bounces = program.command('bounces').description('The versioned bounce classifier (rules/bounces.yaml)');
  bounces
    .command('classify')
    .description('Classify an SMTP reply line ("550 5.1.1 …") or every recipient of a bounce message (--file)')
    .argument('[reply]', 'a reply line as an MTA logs it')
    .option('--file <path>', 'a bounce message (DSN or non-standard) to classify recipient by recipient')
    .option('--provider <key>', 'destination provider key for provider-specific rules (gmail, microsoft, …)')
    .action(
      act(async (ctx, cmd) => {
        const [reply] = cmd.processedArgs as [string | undefined];
        const o = cmd.opts<{ file?: string; provider?: string }>();
        if (!reply && !o.file) throw new CliError('USAGE', 'give a reply line or --file');
        const { classifyLine, replyFromLine, loadDefaultRuleset, loadDefaultProviderMap, parseFeedback } = await import(
          '../../feedback/index.js'
        );
        const ruleset = loadDefaultRuleset();
        const rows: Record<string, unknown>[] = [];
        if (reply) {
          const c = classifyLine(ruleset, reply, o.provider ? { provider: o.provider } : {});
          const parsed = replyFromLine(reply);
          rows.push({
            input: reply,
            reply_code: parsed.code ?? null,
            status: parsed.enhanced ?? null,
            category: c.category,
            hard: c.hard,
            rule: c.ruleId,
            ruleset_version: c.rulesetVersion,
          });
        }
        if (o.file) {
          let bytes: Buffer;
          try {
            bytes = await readFile(o.file);
          } catch (e) {
            throw new CliError('INPUT_UNREADABLE', `cannot read --file ${o.file}: ${(e as Error).message}`);
          }
          const f = await parseFeedback(bytes, { ruleset, providers: loadDefaultProviderMap(), filename: basename(o.file) });
          if (f.kind !== 'dsn') throw new CliError('INPUT_UNREADABLE', `${o.file} is not a bounce (detected: ${f.kind})`);
          for (const r of recipientsOf(f)) rows.push({ file: o.file, ...r });
        }
        const value = rows.length === 1 && reply ? rows[0] : { ruleset_version: ruleset.version, results: rows };
        ctx.out.result(value, () =>
          table([
            ['CATEGORY', 'HARD', 'RULE', 'INPUT'],
            ...rows.map((r) => [String(r.category), r.hard ? 'hard' : 'soft', String(r.rule ?? '-'), String(r.input ?? r.address)]),
          ]).concat([`ruleset ${ruleset.version}`]),
        );
      }),
    );
}

type Entry = { path: string } | { path: string; error: string };

/** Files named, files of named directories, and cur/ + new/ of maildirs; sorted per directory. */
async function expand(paths: string[]): Promise<Entry[]> {
  const out: Entry[] = [];
  for (const p of paths) {
    let s: Awaited<ReturnType<typeof stat>>;
    try {
      s = await stat(p);
    } catch (e) {
      out.push({ path: p, error: (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (e as Error).message });
      continue;
    }
    if (!s.isDirectory()) {
      out.push({ path: p });
      continue;
    }
    const names = await readdir(p, { withFileTypes: true });
    const maildir = ['cur', 'new'].filter((d) => names.some((n) => n.isDirectory() && n.name === d));
    const dirs = maildir.length ? maildir.map((d) => join(p, d)) : [p];
    for (const dir of dirs) {
      const files = (await readdir(dir, { withFileTypes: true })).filter((n) => n.isFile() && !n.name.startsWith('.'));
      for (const f of files.map((n) => n.name).sort()) out.push({ path: join(dir, f) });
    }
  }
  return out;
}

function recipientsOf(f: Extract<Feedback, { kind: 'dsn' }>) {
  const list = [...f.dsn.recipients, ...(f.dsn.unattributed ? [{ ...f.dsn.unattributed, address: null }] : [])];
  return list.map((r) => ({
    address: r.address,
    action: r.action,
    status: r.status ?? null,
    reply_code: r.reply?.code ?? null,
    diagnostic: r.diagnostic ?? null,
    remote_mta: r.remoteMta ?? null,
    category: r.classification.category,
    hard: r.classification.hard,
    rule: r.classification.ruleId,
    ruleset_version: r.classification.rulesetVersion,
  }));
}

/** The --json shape of one parsed document (see docs/feedback.md). */
function describe(f: Feedback): Record<string, unknown> {
  switch (f.kind) {
    case 'dsn':
      return {
        kind: f.kind,
        format: f.dsn.format,
        vendor: f.dsn.vendor,
        recipients: recipientsOf(f),
        original_message_id: f.dsn.original.messageId ?? null,
        original_return_path: f.dsn.original.returnPath ?? null,
        envelope_id: f.dsn.originalEnvelopeId ?? null,
        to: f.message.to,
      };
    case 'arf':
    case 'dmarc-failure':
      return {
        kind: f.kind,
        feedback_type: f.arf.feedbackType,
        user_agent: f.arf.userAgent ?? null,
        source_ip: f.arf.sourceIp ?? null,
        original_rcpt_to: f.arf.originalRcptTo,
        reported_domains: f.arf.reportedDomains,
        original_message_id: f.arf.original.messageId ?? null,
        original_return_path: f.arf.original.returnPath ?? null,
        ...(f.arf.authFailure ? { auth_failure: f.arf.authFailure.authFailure } : {}),
      };
    case 'dmarc-aggregate':
      return {
        kind: f.kind,
        reports: f.reports.map((r) => ({
          org: r.metadata.orgName,
          report_id: r.metadata.reportId,
          domain: r.policyPublished.domain,
          begin: r.metadata.dateRange.begin ?? null,
          end: r.metadata.dateRange.end ?? null,
          records: r.records.length,
          messages: r.records.reduce((n, x) => n + x.count, 0),
          warnings: r.warnings,
        })),
        errors: f.errors,
      };
    case 'tls-rpt':
      return {
        kind: f.kind,
        reports: f.reports.map((r) => ({
          org: r.organizationName,
          report_id: r.reportId,
          policies: r.policies.map((p) => ({
            domain: p.policyDomain,
            type: p.policyType,
            successful: p.totalSuccessfulSessionCount,
            failed: p.totalFailureSessionCount,
          })),
        })),
        errors: f.errors,
      };
    case 'auto-reply':
      return { kind: f.kind, type: f.autoReply.type, in_reply_to: f.autoReply.inReplyTo ?? null, subject: f.autoReply.subject };
    case 'unknown':
      return { kind: f.kind, reason: f.reason };
  }
}

function humanLine(o: Record<string, unknown>): string {
  if (o.error) return `${o.file}: error: ${o.error}`;
  const extra =
    o.kind === 'dsn'
      ? (o.recipients as { address: string | null; status: string | null; category: string; hard: boolean }[])
          .map((r) => `${r.address ?? '(unnamed)'} ${r.status ?? '-'} ${r.category}${r.hard ? ' hard' : ''}`)
          .join('; ')
      : o.kind === 'arf' || o.kind === 'dmarc-failure'
        ? String(o.feedback_type)
        : o.kind === 'unknown'
          ? String(o.reason)
          : Array.isArray(o.reports)
            ? `${o.reports.length} report(s)`
            : String(o.type ?? '');
  return `${o.file}: ${o.kind}${extra ? ` (${extra})` : ''}`;
}
