/**
 * Debian's unbound as a real validating resolver for tests, in front of the loopback DNS server:
 * stub zones point at it, trust anchors are given by the test (no root anchor, so every other name
 * is insecure), it listens on a free 127.0.0.1 port and is stopped (by its pid) through `t.after`.
 * unbound is not a dependency: `findUnbound()` returns undefined when it is not on PATH and the
 * tests that need it skip with that message.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { TestContext } from 'node:test';
import { createResolver } from '../../src/dns/index.js';
import { fakeClock } from './clock.js';

export function findUnbound(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, 'unbound');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

async function freePort(): Promise<number> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

export interface Unbound {
  address: string;
  log: () => string;
}

export async function startUnbound(
  t: TestContext,
  binary: string,
  opts: { stubZones: { name: string; address: string }[]; trustAnchors: string[] },
): Promise<Unbound> {
  const dir = mkdtempSync(join(tmpdir(), 'pw-unbound-'));
  const port = await freePort();
  const config = [
    'server:',
    '  interface: 127.0.0.1',
    `  port: ${port}`,
    '  do-ip6: no',
    '  access-control: 127.0.0.0/8 allow',
    '  username: ""',
    '  chroot: ""',
    `  directory: "${dir}"`,
    '  pidfile: ""',
    '  use-syslog: no',
    '  logfile: ""',
    '  verbosity: 1',
    '  val-log-level: 2',
    // The authoritative server under test is on loopback.
    '  do-not-query-localhost: no',
    '  module-config: "validator iterator"',
    '  qname-minimisation: no',
    '  harden-dnssec-stripped: yes',
    '  prefetch: no',
    ...opts.trustAnchors.map((a) => `  trust-anchor: "${a}"`),
    'remote-control:',
    '  control-enable: no',
    ...opts.stubZones.flatMap((z) => ['stub-zone:', `  name: "${z.name}"`, `  stub-addr: ${z.address.replace(':', '@')}`]),
    '',
  ].join('\n');
  const file = join(dir, 'unbound.conf');
  writeFileSync(file, config);
  let log = '';
  const child: ChildProcess = spawn(binary, ['-d', '-c', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (log += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (log += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  t.after(async () => {
    if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
    rmSync(dir, { recursive: true, force: true });
  });
  // Ready when it answers (localhost is one of unbound's built-in local zones): at most 50 tries,
  // 100 ms apart. Before it binds, the probe sees ECONNREFUSED or a timeout.
  const probe = createResolver({ servers: [`127.0.0.1:${port}`], clock: fakeClock(), cache: false, timeoutMs: 100, tries: 1 });
  for (let i = 0; i < 50; i++) {
    if (child.exitCode !== null) throw new Error(`unbound exited: ${log}`);
    const r = await probe.lookup('localhost', 'A');
    if (r.kind !== 'error') return { address: `127.0.0.1:${port}`, log: () => log };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`unbound did not answer on 127.0.0.1:${port}: ${log}`);
}
