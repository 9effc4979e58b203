import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import pino from 'pino';
import type { Config } from '../../src/config/index.js';
import { type DeepPartial, loadConfig } from '../../src/config/index.js';
import type { Clock } from '../../src/core/index.js';
import type { Transport } from '../../src/delivery/index.js';
import { createPlatform, type Platform } from '../../src/platform.js';
import { createPostgresSchema, postgresUrl } from './dialects.js';

/**
 * A whole platform on temp storage (SQLite, or the CI PostgreSQL when its URL is set and the test
 * asks for it), on random loopback ports, torn down after the test. It also creates a tenant with
 * an admin key and the domain example.com so a test can send at once.
 */
export interface TestPlatform {
  platform: Platform;
  config: Config;
  url: string;
  /** The SMTP submission port (0 when not started). */
  smtpPort: number;
  /** The inbound MX port (0 when not started or the feedback role is off). */
  mxPort: number;
  tenantId: string;
  /** An admin key (send, read, admin) of the tenant. */
  key: string;
  request(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<{ status: number; headers: Headers; body: any }>;
}

export interface StartOptions {
  config?: DeepPartial<Config>;
  clock?: Clock;
  transport?: Transport;
  dialect?: 'sqlite' | 'postgres';
  /** Start the HTTP listener and scheduler (default true). */
  start?: boolean;
}

export async function startPlatform(t: TestContext, opts: StartOptions = {}): Promise<TestPlatform> {
  // Removed only once the platform has stopped: its threads (the SQLite checkpointer) may still
  // open or write files in it until then, and a removal racing them failed with ENOTEMPTY.
  const dataDir = mkdtempSync(join(tmpdir(), 'pw-platform-'));
  let platform: Platform | undefined;
  let schema: Awaited<ReturnType<typeof createPostgresSchema>> | undefined;
  // node:test runs after-hooks in the order they were added: stop the platform, drop its schema,
  // then remove its directory.
  t.after(async () => {
    await platform?.stop();
    await schema?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });
  schema = opts.dialect === 'postgres' && postgresUrl ? await createPostgresSchema() : undefined;
  const url = schema?.url ?? '';
  const config = loadConfig({
    overrides: {
      dataDir,
      sandbox: true,
      ...opts.config,
      // Every answer is held to its route's declared status and schema (docs/api.md); a mismatch answers 500.
      server: { httpPort: 0, smtpPort: 0, mxPort: 0, hostname: 'pw.test', checkResponses: true, ...opts.config?.server },
      store: { url, ...opts.config?.store },
      delivery: { pollMs: 20, ...opts.config?.delivery },
      // The DNS posture monitor would look up the test domains in public DNS; tests start it themselves.
      posture: { monitor: false, ...opts.config?.posture },
      security: { masterKeyFile: join(dataDir, 'master.key'), ...opts.config?.security },
    },
  });
  platform = await createPlatform(config, { clock: opts.clock, transport: opts.transport, log: pino({ level: 'silent' }) });
  const tenant = await platform.tenants.createTenant({ name: 'Test tenant' });
  const { secret } = await platform.tenants.createKey({ tenantId: tenant.id, scopes: ['send', 'read', 'admin'] });
  await platform.domains.addDomain(tenant.id, 'example.com');
  let base = '';
  let smtpPort = 0;
  let mxPort = 0;
  if (opts.start !== false) {
    const ports = await platform.start();
    base = `http://127.0.0.1:${ports.http}`;
    smtpPort = ports.smtp ?? 0;
    mxPort = ports.mx ?? 0;
  }
  return {
    platform,
    config,
    url: base,
    smtpPort,
    mxPort,
    tenantId: tenant.id,
    key: secret,
    async request(method, path, body, headers = {}) {
      const res = await fetch(base + path, {
        method,
        headers: { authorization: `Bearer ${secret}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : null;
      } catch {
        /* not JSON: keep the text */
      }
      return { status: res.status, headers: res.headers, body: parsed };
    },
  };
}
