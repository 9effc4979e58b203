import { Command, CommanderError, Option } from 'commander';
import { registerAudit } from './commands/audit.js';
import { registerBackup } from './commands/backup.js';
import { registerCompliance } from './commands/compliance.js';
import { registerCredentials } from './commands/credentials.js';
import { registerDelivery } from './commands/delivery.js';
import { registerDkim } from './commands/dkim.js';
import { registerDns } from './commands/dns.js';
import { registerDomains } from './commands/domains.js';
import { registerEncryption } from './commands/encryption.js';
import { registerEvents } from './commands/events.js';
import { registerFeedback } from './commands/feedback.js';
import { registerKeys } from './commands/keys.js';
import { registerMessages } from './commands/messages.js';
import { registerReputation } from './commands/reputation.js';
import { registerRetention } from './commands/retention.js';
import { registerSelfAssess } from './commands/self-assess.js';
import { registerSend } from './commands/send.js';
import { registerServe } from './commands/serve.js';
import { registerSpf } from './commands/spf.js';
import { registerSuppressions } from './commands/suppressions.js';
import { registerTemplates } from './commands/templates.js';
import { registerTenants } from './commands/tenants.js';
import { registerThirdParties } from './commands/third-parties.js';
import { registerTrace } from './commands/trace.js';
import { registerUsers } from './commands/users.js';
import { registerWebhooks } from './commands/webhooks.js';
import { type Act, type CliDeps, defaultUrl, type GlobalOptions } from './context.js';
import { collectList } from './option-parsers.js';
import { CliError, createPrinter, exitCodes, failureOf } from './output.js';

/**
 * The `postwarden` command line. runCli never exits the process: it resolves with the exit code
 * and main.ts sets it, so tests can run the CLI in-process with injected edges.
 */
export async function runCli(argv: readonly string[], deps: CliDeps): Promise<number> {
  // Known before parsing so even a usage error is printed in the requested form.
  const json = argv.includes('--json');
  const out = createPrinter(json, deps);
  let exitCode: number = exitCodes.ok;

  const act: Act =
    (body) =>
    async (...args) => {
      const cmd = args[args.length - 1] as Command;
      const globals = cmd.optsWithGlobals<GlobalOptions>();
      const printer = createPrinter(globals.json === true, deps);
      const setting = { deps, globals, out: printer };
      // Every command passes the one permission table before its body runs (command-access.ts).
      const { authorizeCommand } = await import('./command-access.js');
      const who = await authorizeCommand(setting, cmd);
      const code = await body({ ...setting, who }, cmd);
      exitCode = typeof code === 'number' ? code : exitCodes.ok;
    };

  const program = createProgram(deps, act);

  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exitCode;
  } catch (e) {
    if (e instanceof CommanderError) return usageExit(e, out);
    const f = failureOf(e);
    out.failure(f);
    return f.exit;
  }
}

/**
 * The command tree with every command registered, each body wrapped by `act`. runCli runs it; the
 * command permission test walks it, so a command added here without a row in
 * access/command-permissions.ts fails that test (and is refused at run time).
 */
export function createProgram(deps: Pick<CliDeps, 'stdout' | 'stderr' | 'version'>, act: Act): Command {
  const program = new Command('postwarden')
    .description("Self-hostable email infrastructure: accept, queue, deliver, and tell every message's story.")
    .exitOverride()
    .configureOutput({ writeOut: deps.stdout, writeErr: deps.stderr, outputError: () => undefined })
    .showHelpAfterError(false)
    .option('--config <file>', 'YAML config file (POSTWARDEN_CONFIG; default ./postwarden.yaml when present)')
    .option('--data-dir <dir>', 'data directory holding the SQLite store and keys (POSTWARDEN_DATA_DIR)')
    .option('--database-url <url>', 'PostgreSQL URL instead of SQLite (DATABASE_URL)')
    .option('--dns-server <host[:port]>', 'DNS server for every lookup (repeatable; POSTWARDEN_DNS_SERVER)', collectList)
    .option('--json', 'machine-readable output: one JSON document (or one per line for streams)')
    .addOption(new Option('--url <url>', `server for client commands (POSTWARDEN_URL; default ${defaultUrl})`))
    .addOption(new Option('--api-key <key>', 'API key for client commands (POSTWARDEN_API_KEY)'))
    .addOption(
      new Option(
        '--as <email>',
        "act as this Postwarden user, with its role's permissions, instead of as the host operator (POSTWARDEN_ACTOR)",
      ),
    );
  if (deps.version) program.version(deps.version, '-V, --version', 'print the version and exit');

  registerServe(program, act);
  registerTenants(program, act);
  registerKeys(program, act);
  registerDomains(program, act);
  registerDkim(program, act);
  registerSpf(program, act);
  registerSend(program, act);
  registerMessages(program, act);
  registerEvents(program, act);
  registerReputation(program, act);
  registerDns(program, act);
  registerFeedback(program, act);
  registerSuppressions(program, act);
  registerWebhooks(program, act);
  registerDelivery(program, act);
  registerTemplates(program, act);
  registerBackup(program, act);
  registerAudit(program, act);
  registerEncryption(program, act);
  registerUsers(program, act);
  registerTrace(program, act);
  registerThirdParties(program, act);
  registerCompliance(program, act);
  registerCredentials(program, act);
  registerRetention(program, act);
  registerSelfAssess(program, act);
  return program;
}

/** Help and version are successes; every other commander complaint is a usage error (64). */
function usageExit(e: CommanderError, out: ReturnType<typeof createPrinter>): number {
  if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return exitCodes.ok;
  // A group run without a subcommand prints its help (to stderr) and is a usage error.
  if (e.code === 'commander.help') return exitCodes.usage;
  out.failure(failureOf(new CliError('USAGE', e.message.replace(/^error: /, ''))));
  return exitCodes.usage;
}
