import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadOrCreateMasterKey } from '../../src/governance/index.js';
import { createDomains } from '../../src/identity/index.js';
import { createStore } from '../../src/store/index.js';
import { createTenants } from '../../src/tenants/index.js';
import { encryptionFor } from '../protection/seed.js';

/**
 * Runs `postwarden serve` as a child process, the way an operator would, so the load generator and
 * the server do not share an event loop. The tenant, key and domain are created first through the
 * store, as the CLI's admin commands do.
 */
export interface BenchServer {
  http: number;
  smtp: number;
  key: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

export async function startServer(opts: {
  dataDir: string;
  databaseUrl?: string;
  env?: Record<string, string>;
  args?: string[];
  /** Node's own flags for the server (V8's heap sizes; NODE_OPTIONS accepts only some of them). */
  nodeArgs?: string[];
  /** Create a tenant, a send+read key and the domain bench.example first (default true). */
  bootstrap?: boolean;
  /** The key to hand back when not bootstrapping (a restart on the same data). */
  key?: string;
}): Promise<BenchServer> {
  let secret = opts.key ?? '';
  if (opts.bootstrap !== false) {
    const store = await createStore({ url: opts.databaseUrl, dataDir: opts.dataDir, encryption: encryptionFor(opts.dataDir) });
    const tenants = createTenants({ store, clock: { now: () => Date.now() } });
    const tenant = await tenants.createTenant({ name: 'bench' });
    await tenants.updateTenant(tenant.id, { ratePerMinute: 0 });
    secret = (await tenants.createKey({ tenantId: tenant.id, scopes: ['send', 'read'] })).secret;
    // Through identity, so the domain gets its DKIM key sealed with the master key the server will load.
    const masterKey = loadOrCreateMasterKey(join(opts.dataDir, 'master.key')).key;
    await createDomains({ store, tenants, clock: { now: () => Date.now() }, masterKey, dkim: { algorithms: ['rsa-2048'] } }).addDomain(
      tenant.id,
      'bench.example',
    );
    await store.close();
  }

  const args = ['bin/postwarden.mjs', 'serve', '--data-dir', opts.dataDir, '--http-port', '0', '--smtp-port', '0', '--mx-port', '0'];
  if (opts.databaseUrl) args.push('--database-url', opts.databaseUrl);
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), ...args, ...(opts.args ?? [])], {
    cwd: join(import.meta.dirname, '../..'),
    // A qualified name, whatever this machine is called: a dotless host name (say `vm`) gets no DNS
    // records, so adding the bench domain would be refused.
    env: { ...process.env, POSTWARDEN_LOG_LEVEL: 'warn', POSTWARDEN_HOSTNAME: 'mail.bench.example', ...opts.env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const ports = await new Promise<{ http: number; smtp: number }>((resolve, reject) => {
    let err = '';
    const timer = setTimeout(() => reject(new Error(`server did not start in 60 s:\n${err}`)), 60_000);
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      // `serve` prints one human line once every listener is up:
      // "Postwarden listening: http://127.0.0.1:PORT, smtp 127.0.0.1:PORT".
      const line = /Postwarden listening:.*\n/.exec(err)?.[0];
      if (line) {
        clearTimeout(timer);
        resolve({
          http: Number(/http:\/\/[^\s,]+:(\d+)/.exec(line)?.[1] ?? 0),
          smtp: Number(/smtp [^\s,]+:(\d+)/.exec(line)?.[1] ?? 0),
        });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${err}`));
    });
  });
  return {
    ...ports,
    key: secret,
    child,
    async stop() {
      // A child killed by a signal has `exitCode` null and `signalCode` set; its 'exit' has fired already.
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await new Promise((r) => {
        const t = setTimeout(() => {
          child.kill('SIGKILL');
          r(null);
        }, 20_000);
        child.on('exit', () => {
          clearTimeout(t);
          r(null);
        });
      });
    },
  };
}

export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** The Node flags the shipped systemd unit starts the server with (deploy/postwarden.service's ExecStart). */
export function unitNodeFlags(): string[] {
  const unit = readFileSync(join(import.meta.dirname, '../../deploy/postwarden.service'), 'utf8');
  const exec = /^ExecStart=\/usr\/bin\/node (.*)\/opt\/postwarden\/bin\/postwarden\.mjs serve$/m.exec(unit);
  if (!exec) throw new Error('deploy/postwarden.service: no ExecStart running /usr/bin/node … bin/postwarden.mjs serve');
  return exec[1]!.trim().split(/\s+/).filter(Boolean);
}
