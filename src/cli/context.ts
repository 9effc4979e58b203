import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { Logger } from 'pino';
import type { Config, DeepPartial } from '../config/index.js';
import { systemClock } from '../core/index.js';
import type { Domains } from '../identity/index.js';
import type { Tenants } from '../tenants/index.js';
import { type ApiClient, createApiClient } from './api-client.js';
import type { CommandActor } from './command-access.js';
import { CliError, type Printer } from './output.js';

/**
 * What every command receives: the process's edges (injected by main.ts so tests can run the CLI
 * in-process), the parsed global options, and ways to reach the platform: the store directly for
 * admin commands, HTTP for client commands.
 */
export interface ServablePlatform {
  /** Resolves with the bound port of each listener (`http`, `smtp`, `mx`, …). */
  start(): Promise<Partial<Record<string, number>>>;
  stop(): Promise<void>;
}

export interface CliDeps {
  env: Record<string, string | undefined>;
  /** The package version, printed by `--version`. */
  version?: string;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  createPlatform: (config: Config, opts: { log: Logger }) => Promise<ServablePlatform>;
  /** Registers a handler for SIGINT and SIGTERM; returns the function that removes it. */
  onSignal: (handler: (signal: NodeJS.Signals) => void) => () => void;
  /** Ends the process now (a second signal, a stop that overran its bound). */
  exit: (code: number) => void;
  /** Sets how eagerly this process's JavaScript heap is collected (server.heapGrowthPercent); serve only. */
  tuneHeap?: (growthPercent: number) => void;
  fetch?: typeof fetch;
  /** stderr is a terminal: progress may redraw one line (events export). */
  stderrIsTTY?: boolean;
  /** stdout as a stream, for output large enough to need backpressure (events export). */
  stdoutStream?: NodeJS.WritableStream;
}

export interface GlobalOptions {
  config?: string;
  dataDir?: string;
  databaseUrl?: string;
  dnsServer?: string[];
  json?: boolean;
  url?: string;
  apiKey?: string;
  /** Act as this Postwarden user (email) instead of as the host operator (POSTWARDEN_ACTOR). */
  as?: string;
}

/** What a command runs with before it is known who runs it. */
export interface CliSetting {
  deps: CliDeps;
  globals: GlobalOptions;
  out: Printer;
}

export interface CliContext extends CliSetting {
  /** Who runs the command (command-access.ts): the host operator, or a user `--as`; already checked. */
  who: CommandActor;
}

export const defaultUrl = 'http://127.0.0.1:8025';
const defaultConfigFile = 'postwarden.yaml';

/**
 * Sources, later wins: defaults ← file ← environment ← global flags ← command flags.
 *
 * The config schema and the database drivers are imported on demand: client commands (send,
 * messages, events) need neither, and loading them through tsx's hooks costs seconds per run.
 */
export async function configFor(ctx: CliSetting, overrides: DeepPartial<Config> = {}): Promise<Config> {
  const { loadConfig } = await import('../config/index.js');
  const { globals, deps } = ctx;
  const file = globals.config ?? deps.env.POSTWARDEN_CONFIG ?? (existsSync(defaultConfigFile) ? defaultConfigFile : undefined);
  const fromGlobals: DeepPartial<Config> = {
    ...(globals.dataDir !== undefined ? { dataDir: globals.dataDir } : {}),
    ...(globals.databaseUrl !== undefined ? { store: { url: globals.databaseUrl } } : {}),
    ...(globals.dnsServer?.length ? { dns: { servers: globals.dnsServer } } : {}),
  };
  return loadConfig({ file, env: deps.env, overrides: merge(fromGlobals, overrides) });
}

function merge<T extends object>(a: T, b: T): T {
  const out: Record<string, unknown> = { ...(a as Record<string, unknown>) };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    if (v === undefined) continue;
    out[k] = isPlain(prev) && isPlain(v) ? merge(prev, v) : v;
  }
  return out as T;
}

const isPlain = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Admin commands open the store the server uses. On SQLite that is dataDir/postwarden.db, and a
 * command run in the wrong directory used to create an empty store there silently; now the data
 * directory must exist (a fresh one is made by `serve`, or created by hand), and the error says where
 * it looked and how that place was chosen.
 */
export function requireDataDir(ctx: CliSetting, config: Config): void {
  if (config.store.url || existsSync(config.dataDir)) return;
  const from =
    ctx.globals.dataDir !== undefined
      ? '--data-dir'
      : ctx.deps.env.POSTWARDEN_DATA_DIR !== undefined
        ? 'POSTWARDEN_DATA_DIR'
        : config.dataDir !== './data'
          ? 'dataDir in the config file'
          : 'the default dataDir (./data) in the current directory';
  throw new CliError(
    'NO_DATA_DIR',
    `no data directory at ${resolve(config.dataDir)} (from ${from}): run this where the server's data directory is, pass --data-dir (or --database-url), or create the directory to start a new store there`,
    [{ path: '/dataDir', message: `${resolve(config.dataDir)} does not exist` }],
  );
}

/** The encryption settings of an admin command: the server's keys, read from the same files. */
export async function adminEncryption(config: Config) {
  const [{ storeEncryptionFrom }, { loadOrCreateMasterKey }, { join }] = await Promise.all([
    import('../protection/index.js'),
    import('../governance/index.js'),
    import('node:path'),
  ]);
  const masterKey = loadOrCreateMasterKey(config.security.masterKeyFile || join(config.dataDir, 'master.key')).key;
  return storeEncryptionFrom(config.encryption, { masterKey, dataDir: config.dataDir });
}

/** The store for an admin command, after requireDataDir; content is sealed and opened as the server does. */
export async function openAdminStore(ctx: CliSetting, config: Config, encryption?: Awaited<ReturnType<typeof adminEncryption>>) {
  requireDataDir(ctx, config);
  const { createStore } = await import('../store/index.js');
  return createStore({
    url: config.store.url,
    dataDir: config.dataDir,
    poolSize: 1,
    sqliteDriver: config.store.sqliteDriver,
    encryption: encryption ?? (await adminEncryption(config)),
  });
}

/**
 * Runs an admin operation straight against the store the server uses (SQLite WAL lets a second
 * process write while the server runs; PostgreSQL is shared anyway). The platform is not started.
 */
export async function withTenants<T>(ctx: CliContext, fn: (tenants: Tenants) => Promise<T>): Promise<T> {
  const config = await configFor(ctx);
  const { createTenants } = await import('../tenants/index.js');
  const store = await openAdminStore(ctx, config);
  try {
    return await fn(createTenants({ store, clock: systemClock, audit: await cliAudit(config, store) }));
  } finally {
    await store.close();
  }
}

/**
 * Like withTenants, with the identity service too: adding a domain generates its DKIM keys, sealed
 * with the node master key, so this reads (or on a fresh data dir creates) the same key file the
 * server uses.
 */
export async function withDomains<T>(ctx: CliContext, fn: (tenants: Tenants, domains: Domains) => Promise<T>): Promise<T> {
  const config = await configFor(ctx);
  requireDataDir(ctx, config);
  const [{ createTenants }, { createDomains }, { loadOrCreateMasterKey }, { join }] = await Promise.all([
    import('../tenants/index.js'),
    import('../identity/index.js'),
    import('../governance/index.js'),
    import('node:path'),
  ]);
  const masterKey = loadOrCreateMasterKey(config.security.masterKeyFile || join(config.dataDir, 'master.key')).key;
  const store = await openAdminStore(ctx, config);
  try {
    const audit = await cliAudit(config, store);
    const tenants = createTenants({ store, clock: systemClock, audit });
    const algorithms: ('rsa-2048' | 'ed25519')[] = config.delivery.dkimEd25519 ? ['rsa-2048', 'ed25519'] : ['rsa-2048'];
    const id = config.identity;
    const { createResolver } = await import('../dns/index.js');
    const domains = createDomains({
      store,
      tenants,
      clock: systemClock,
      masterKey,
      dkim: { algorithms, rotationDays: id.dkimRotationDays, overlapDays: id.dkimOverlapDays },
      sandbox: config.sandbox,
      // Verification wants what DNS says now, not a cached answer.
      resolver: createResolver({
        servers: config.dns.servers,
        resolvConf: config.dns.resolvConf,
        timeoutMs: config.dns.timeoutMs,
        clock: systemClock,
        cache: false,
      }),
      platform: (await import('../config/index.js')).platformIdentityOf(config),
      audit,
    });
    return await fn(tenants, domains);
  } finally {
    await store.close();
  }
}

/** The HTTP client for commands that talk to a running server. */
export function apiClientFor(ctx: CliContext): ApiClient {
  const { globals, deps } = ctx;
  const apiKey = globals.apiKey ?? deps.env.POSTWARDEN_API_KEY;
  if (!apiKey) throw new CliError('USAGE', 'no API key: pass --api-key or set POSTWARDEN_API_KEY');
  return createApiClient({ baseUrl: globals.url ?? deps.env.POSTWARDEN_URL ?? defaultUrl, apiKey, fetch: deps.fetch ?? fetch });
}

/** Wraps a command body: builds its context, and records the exit code it resolves with (0 unless a number). */
export type Act = (body: (ctx: CliContext, cmd: Command) => Promise<unknown>) => (...args: unknown[]) => Promise<void>;

/** The audit log as the CLI writes it: the server's store and master key (checkpoints), its settings. */
export async function cliAudit(config: Config, store: Awaited<ReturnType<typeof openAdminStore>>) {
  const [{ createAuditLog, createAuditService }, { loadOrCreateMasterKey }, { join }] = await Promise.all([
    import('../audit/index.js'),
    import('../governance/index.js'),
    import('node:path'),
  ]);
  const masterKey = loadOrCreateMasterKey(config.security.masterKeyFile || join(config.dataDir, 'master.key')).key;
  return createAuditService({
    store,
    log: createAuditLog({ clock: systemClock, masterKey, checkpointEvery: config.audit.checkpointEvery }),
  });
}
