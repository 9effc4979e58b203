import type { Command } from 'commander';
import type { Act, CliContext, CliDeps } from '../context.js';
import { configFor } from '../context.js';
import { parsePort } from '../option-parsers.js';
import { CliError, failureOf } from '../output.js';

/**
 * `postwarden serve`: runs the platform until SIGINT/SIGTERM, then stops gracefully: listeners
 * close, in-flight work finishes or is handed back, the store closes. The stop is bounded; a
 * second signal ends the process at once (exit 128 + signal number, the shell convention).
 */
export const stopTimeoutMs = 15_000;

const signalNumbers: Partial<Record<NodeJS.Signals, number>> = { SIGINT: 2, SIGTERM: 15 };

interface ServeOptions {
  httpPort?: number;
  smtpPort?: number;
  mxPort?: number;
  host?: string;
  sandbox?: boolean;
}

export function registerServe(program: Command, act: Act): void {
  program
    .command('serve')
    .description('Run the platform: HTTP API, SMTP submission and delivery (as configured)')
    .option('--http-port <port>', 'HTTP API port (POSTWARDEN_HTTP_PORT; 0 picks a free port)', parsePort)
    .option('--smtp-port <port>', 'SMTP submission port (POSTWARDEN_SMTP_PORT)', parsePort)
    .option('--mx-port <port>', 'inbound MX port for bounces and reports (POSTWARDEN_MX_PORT)', parsePort)
    .option('--host <addr>', 'address the listeners bind to (POSTWARDEN_HOST)')
    .option('--sandbox', 'capture all outbound mail locally instead of delivering it (POSTWARDEN_SANDBOX)')
    .action(act((ctx, cmd) => serve(ctx, cmd.opts<ServeOptions>())));
}

async function serve(ctx: CliContext, o: ServeOptions): Promise<number> {
  const config = await configFor(ctx, {
    ...(o.sandbox ? { sandbox: true } : {}),
    server: { httpPort: o.httpPort, smtpPort: o.smtpPort, mxPort: o.mxPort, host: o.host },
  });
  const { default: pino } = await import('pino');
  const log = pino({ level: config.log.level });
  ctx.deps.tuneHeap?.(config.server.heapGrowthPercent);
  const signals = listenForSignals(ctx.deps);
  try {
    const platform = await ctx.deps.createPlatform(config, { log });
    let ports: Partial<Record<string, number>>;
    try {
      ports = await platform.start();
    } catch (e) {
      await platform.stop().catch(() => undefined);
      throw listenError(e);
    }
    log.info({ ports, host: config.server.host }, 'listening');
    ctx.out.note(`Postwarden listening: ${describeListeners(config.server.host, ports, config.server.tls.certFile ? 'https' : 'http')}`);

    const signal = await signals.first;
    log.info({ signal }, 'stopping');
    ctx.out.note(`${signal}: stopping (a second signal exits at once)`);
    let timer: NodeJS.Timeout | undefined;
    const overran = new Promise<'overran'>((resolve) => {
      timer = setTimeout(() => resolve('overran'), stopTimeoutMs);
    });
    const outcome = await Promise.race([platform.stop().then(() => 'stopped' as const), overran]).finally(() => clearTimeout(timer));
    if (outcome === 'overran') {
      const f = failureOf(new CliError('STOP_TIMEOUT', `the platform did not stop within ${stopTimeoutMs / 1000} s`));
      ctx.out.failure(f);
      ctx.deps.exit(f.exit);
      return f.exit;
    }
    ctx.out.note('Postwarden stopped');
    return 0;
  } finally {
    signals.dispose();
  }
}

function listenForSignals(deps: CliDeps): { first: Promise<NodeJS.Signals>; dispose: () => void } {
  let received: NodeJS.Signals | undefined;
  let resolveFirst: (s: NodeJS.Signals) => void = () => undefined;
  const first = new Promise<NodeJS.Signals>((resolve) => {
    resolveFirst = resolve;
  });
  const dispose = deps.onSignal((signal) => {
    if (received) deps.exit(128 + (signalNumbers[signal] ?? 0));
    received = signal;
    resolveFirst(signal);
  });
  return { first, dispose };
}

function listenError(e: unknown): unknown {
  const code = (e as { code?: string }).code;
  if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
    return new CliError('CANNOT_LISTEN', (e as Error).message);
  }
  return e;
}

/** `http://127.0.0.1:8025, smtp 127.0.0.1:2587`: one entry per bound listener. */
export function describeListeners(host: string, ports: Partial<Record<string, number>>, scheme: 'http' | 'https' = 'http'): string {
  const h = host.includes(':') ? `[${host}]` : host;
  return Object.entries(ports)
    .filter((e): e is [string, number] => typeof e[1] === 'number')
    .map(([name, port]) => (name === 'http' ? `${scheme}://${h}:${port}` : `${name} ${h}:${port}`))
    .join(', ');
}
