import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Sinks } from './sink-process.js';
import type { SmtpLoadResult } from './smtp-load.js';

/**
 * Debian's Postfix as the peer MTA of `npm run bench -- deliver --vs postfix`, set up the way an
 * operator would set up a loopback relay: it listens on one 127.0.0.1 port, accepts from
 * 127.0.0.0/8 only, delivers nothing locally, and sends each destination domain to its sink through
 * a transport map (`smtp:[127.0.0.1]:PORT`). For the DKIM variant the opendkim milter signs every
 * message with an RSA-2048 key.
 *
 * It runs as a private instance (`postfix -c DIR`): its own main.cf and master.cf, queue and data
 * directories under a temporary directory, removed by `stop()`. The machine's /etc/postfix and any
 * Postfix instance already running are never touched. The opendkim key and config live in
 * /var/lib/postwarden-bench-opendkim (opendkim refuses paths other users can write, so not /tmp).
 * Every wait is bounded, and only 127.0.0.1 is ever dialled.
 *
 * Settings beyond a stock main.cf, each one what a throughput-minded admin of a relay would set
 * (bench/README.md lists them with the reason): `smtp_tls_connection_reuse = yes` with the tlsproxy
 * service, and STARTTLS offered to clients (`smtpd_tls_security_level = may`, as Postwarden's
 * submission port does). Queue, concurrency and flow-control settings stay at Postfix's defaults.
 */

const ODK_DIR = '/var/lib/postwarden-bench-opendkim';

const run = (cmd: string, args: string[], timeoutMs = 60_000) =>
  execFileSync(cmd, args, { timeout: timeoutMs, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const has = (bin: string) => {
  try {
    run('sh', ['-c', `command -v ${bin}`]);
    return true;
  } catch {
    return false;
  }
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A free loopback port (listen on 0, read it, close). */
export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

/** True once something accepts TCP on 127.0.0.1:port; false after `timeoutMs`. */
export async function waitListening(port: number, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  for (let i = 0; i < 1000 && Date.now() < until; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port });
      s.setTimeout(500);
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
      s.once('timeout', () => {
        s.destroy();
        resolve(false);
      });
    });
    if (ok) return true;
    await sleep(100);
  }
  return false;
}

/**
 * Installs postfix, opendkim and opendkim-tools from Debian when a binary is missing: a debconf
 * preseed ("No configuration": the package sets up no system instance, since the bench runs its own)
 * and `apt-get install -y`. Needs root.
 */
export function ensurePostfixInstalled(log: (s: string) => void): void {
  const missing = ['postfix', 'postconf', 'opendkim', 'opendkim-genkey', 'openssl'].filter((b) => !has(b));
  if (process.getuid?.() !== 0) throw new Error('--vs postfix needs root: Postfix runs as its own instance with root-owned directories');
  if (!missing.length) return;
  log(`# installing postfix opendkim opendkim-tools (missing: ${missing.join(', ')})`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('debconf-set-selections', [], {
    input: 'postfix postfix/main_mailer_type select No configuration\npostfix postfix/mailname string bench.localdomain\n',
    timeout: 30_000,
  });
  execFileSync('apt-get', ['install', '-y', '--no-install-recommends', 'postfix', 'opendkim', 'opendkim-tools', 'openssl'], {
    env,
    timeout: 600_000,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

export interface PostfixPeerOptions {
  /** Destination domain → the loopback sink port it is relayed to. */
  routes: Record<string, number>;
  /** Sign with opendkim (RSA-2048) as this domain and selector. */
  dkim?: { domain: string; selector: string };
  /** `smtp_tls_security_level`: `may` when the sinks offer STARTTLS (as Postwarden uses it), else `none`. */
  tls: 'may' | 'none';
}

export interface PostfixPeer {
  /** The port Postfix's smtpd listens on (127.0.0.1). */
  port: number;
  /** The DKIM public key TXT value (`v=DKIM1; k=rsa; p=…`) when signing. */
  dkimTxt?: string;
  version: string;
  /** Messages still in this instance's queue. */
  queueSize(): number;
  /** Stops opendkim and this Postfix instance and removes its directories. Safe to call twice. */
  stop(): Promise<void>;
}

function masterPid(spool: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(spool, 'pid/master.pid'), 'utf8').trim());
    if (!pid) return undefined;
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

/** Files in the queue directories (incoming, active, deferred, maildrop, hold) of one instance. */
function queueFiles(spool: string): number {
  let n = 0;
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else n++;
    }
  };
  for (const d of ['incoming', 'active', 'deferred', 'maildrop', 'hold']) {
    try {
      walk(join(spool, d));
    } catch {
      // not created yet: nothing queued there
    }
  }
  return n;
}

async function startOpendkim(dkim: { domain: string; selector: string }, port: number): Promise<{ child: ChildProcess; txt: string }> {
  const keys = join(ODK_DIR, 'keys');
  mkdirSync(keys, { recursive: true });
  const keyFile = join(keys, `${dkim.selector}.private`);
  if (!existsSync(keyFile)) run('opendkim-genkey', ['-b', '2048', '-d', dkim.domain, '-s', dkim.selector, '-D', keys]);
  run('chown', ['-R', 'opendkim:opendkim', keys]);
  chmodSync(keys, 0o700);
  chmodSync(keyFile, 0o600);
  // The .txt is a zone-file line: the value is the concatenation of its quoted strings.
  const txt = [...readFileSync(join(keys, `${dkim.selector}.txt`), 'utf8').matchAll(/"([^"]*)"/g)].map((m) => m[1]).join('');
  const conf = join(ODK_DIR, 'opendkim.conf');
  writeFileSync(
    conf,
    [
      'Syslog no',
      'Mode s',
      `Domain ${dkim.domain}`,
      `Selector ${dkim.selector}`,
      `KeyFile ${keyFile}`,
      'SignatureAlgorithm rsa-sha256',
      'Canonicalization relaxed/relaxed',
      `Socket inet:${port}@127.0.0.1`,
      'UserID opendkim',
      'InternalHosts 127.0.0.1',
      'Background no',
      '',
    ].join('\n'),
  );
  const child = spawn('opendkim', ['-f', '-x', conf], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (!(await waitListening(port, 10_000))) {
    child.kill('SIGTERM');
    throw new Error('opendkim did not listen within 10 s');
  }
  return { child, txt };
}

/**
 * `postfix` prints its errors only to a terminal or syslog; neither exists here, so `check` and
 * `start` run with the instance's own log file, and a failure quotes its tail.
 */
function postfixCmd(etc: string, logFile: string, args: string[]): void {
  try {
    run('postfix', ['-c', etc, ...args], 60_000);
  } catch (e) {
    let tail = '';
    try {
      tail = readFileSync(logFile, 'utf8').split('\n').slice(-8).join('\n');
    } catch {
      // no log yet
    }
    throw new Error(`postfix ${args.join(' ')} failed: ${(e as Error).message}\n${tail}`);
  }
}

export async function startPostfixPeer(opts: PostfixPeerOptions): Promise<PostfixPeer> {
  // Not under a world-writable parent: Postfix checks the ownership of its directories.
  const base = mkdtempSync(join(tmpdir(), 'pw-bench-postfix-'));
  chmodSync(base, 0o755);
  const etc = join(base, 'etc');
  const spool = join(base, 'spool');
  const data = join(base, 'data');
  const logFile = join(base, 'postfix.log');
  for (const d of [etc, spool, data]) mkdirSync(d, { mode: 0o755 });
  const ids = (name: string) => Number(run('id', ['-u', name]).trim());
  chownSync(data, ids('postfix'), 0);
  chmodSync(data, 0o700);
  // Debian ships the stock master.cf as master.cf.proto; main.cf starts empty (every default).
  copyFileSync(
    existsSync('/etc/postfix/master.cf.proto') ? '/etc/postfix/master.cf.proto' : '/etc/postfix/master.cf',
    join(etc, 'master.cf'),
  );
  writeFileSync(join(etc, 'main.cf'), '');
  const port = await freePort();
  let opendkim: { child: ChildProcess; txt: string } | undefined;
  let stopped = false;

  const stop = async () => {
    if (stopped) return;
    stopped = true;
    const pid = masterPid(spool);
    try {
      run('postfix', ['-c', etc, 'stop'], 30_000);
    } catch {
      if (pid) process.kill(pid, 'SIGTERM');
    }
    for (let i = 0; i < 100 && masterPid(spool) !== undefined; i++) await sleep(100);
    if (opendkim && opendkim.child.exitCode === null) {
      opendkim.child.kill('SIGTERM');
      await Promise.race([new Promise((r) => opendkim!.child.once('exit', r)), sleep(5000)]);
      if (opendkim.child.exitCode === null) opendkim.child.kill('SIGKILL');
    }
    rmSync(base, { recursive: true, force: true });
  };

  try {
    // texthash: needs no postmap. One line per destination, as an operator's transport(5) map.
    const transport = join(etc, 'transport');
    writeFileSync(
      transport,
      Object.entries(opts.routes)
        .map(([d, p]) => `${d} smtp:[127.0.0.1]:${p}\n`)
        .join(''),
    );
    // STARTTLS for clients, as Postwarden's submission port offers it: ECDSA P-256, like its certificate.
    const pem = join(etc, 'smtpd.pem');
    run('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '2',
      '-subj',
      '/CN=mta.bench.localdomain',
      '-keyout',
      pem,
      '-out',
      `${pem}.crt`,
    ]);
    writeFileSync(pem, readFileSync(pem, 'utf8') + readFileSync(`${pem}.crt`, 'utf8'));
    chmodSync(pem, 0o600);
    const domains = Object.keys(opts.routes).join(', ');
    run('postconf', [
      '-c',
      etc,
      '-e',
      // The private instance's own places.
      `queue_directory = ${spool}`,
      `data_directory = ${data}`,
      'meta_directory = /etc/postfix',
      'compatibility_level = 3.6',
      `maillog_file = ${logFile}`,
      `maillog_file_prefixes = /var, /dev/stdout, ${base}`,
      // A loopback relay for the three destinations, nothing local.
      'inet_interfaces = 127.0.0.1',
      'inet_protocols = ipv4',
      'myhostname = mta.bench.localdomain',
      'mydestination =',
      'local_recipient_maps =',
      'alias_maps =',
      'alias_database =',
      `relay_domains = ${domains}`,
      'mynetworks = 127.0.0.0/8',
      'smtpd_relay_restrictions = permit_mynetworks, reject',
      `transport_maps = texthash:${transport}`,
      'relayhost =',
      'default_transport = smtp',
      `smtp_tls_security_level = ${opts.tls}`,
      'smtpd_tls_security_level = may',
      `smtpd_tls_chain_files = ${pem}`,
      'smtpd_milters =',
      'non_smtpd_milters =',
    ]);
    // No chroot: the private queue directory has no populated etc/ (resolv.conf, services).
    run('postconf', ['-c', etc, '-F', '*/*/chroot = n']);
    // Our own port instead of 25: the default smtp/inet service is commented out, ours added.
    run('postconf', ['-c', etc, '-M#', 'smtp/inet']);
    run('postconf', ['-c', etc, '-Me', `127.0.0.1:${port}/inet = 127.0.0.1:${port} inet n - n - - smtpd`]);
    if (opts.tls === 'may') {
      // Without this, Postfix does not reuse a connection once STARTTLS ran on it: every message
      // would pay a TCP connect and a TLS handshake. Reuse needs the tlsproxy service (Postfix ≥ 3.4),
      // which Debian's master.cf ships commented out.
      run('postconf', ['-c', etc, '-Me', 'tlsproxy/unix = tlsproxy unix - - n - 0 tlsproxy']);
      run('postconf', ['-c', etc, '-e', 'smtp_tls_connection_reuse = yes']);
    }
    if (opts.dkim) {
      const milterPort = await freePort();
      opendkim = await startOpendkim(opts.dkim, milterPort);
      run('postconf', [
        '-c',
        etc,
        '-e',
        `smtpd_milters = inet:127.0.0.1:${milterPort}`,
        'non_smtpd_milters = $smtpd_milters',
        'milter_default_action = tempfail',
      ]);
    }
    postfixCmd(etc, logFile, ['check']);
    postfixCmd(etc, logFile, ['start']);
    if (!(await waitListening(port, 15_000))) throw new Error(`postfix did not listen on 127.0.0.1:${port} within 15 s`);
  } catch (e) {
    await stop();
    throw e;
  }
  const version = run('postconf', ['-c', etc, '-h', 'mail_version']).trim();
  return { port, version, stop, queueSize: () => queueFiles(spool), ...(opendkim ? { dkimTxt: opendkim.txt } : {}) };
}

export interface PostfixRun {
  n: number;
  /** Where the timed run's message numbers start (after the warm-up's). */
  offset: number;
  timeoutMs: number;
  dkim: boolean;
  tls: 'may' | 'none';
  sinks: Pick<Sinks, 'ports' | 'counts' | 'expect' | 'last'>;
  senderDomain: string;
  /** A sink that keeps whole messages, for the DKIM probe. */
  probeDomain: string;
  /** Sends messages [offset, offset + n) through SMTP to this port (the same client Postwarden gets). */
  inject(port: number, n: number, offset: number): Promise<SmtpLoadResult>;
  /** Sends one probe message to `to`. */
  probe(port: number, to: string): Promise<SmtpLoadResult>;
  publishDkim(name: string, value: string): void;
  dkimEvidence(raw: string | null): Promise<{ signed: boolean; signatures: string[]; verified: string[] }>;
  /** Waits (bounded) for an idle machine; returns the idle % seen. */
  waitQuiet(): Promise<number>;
  machineBusyS(): number;
  loadavg(): string;
  log(line: string): void;
}

const wallNow = () => performance.timeOrigin + performance.now();
const plus = (a: Record<string, number>, b: Record<string, number>) =>
  Object.fromEntries(Object.keys(b).map((d) => [d, (a[d] ?? 0) + b[d]!]));
const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);

/**
 * One Postfix measurement, shaped like the Postwarden one: same sinks, same messages through the
 * same SMTP client, same warm-up (300) and idle wait, and the same clock: start of injection → last
 * message counted by the sinks. The instance is created, run and removed inside this call.
 */
export async function measurePostfix(r: PostfixRun) {
  const peer = await startPostfixPeer({
    routes: r.sinks.ports,
    tls: r.tls,
    ...(r.dkim ? { dkim: { domain: r.senderDomain, selector: 'pwbench' } } : {}),
  });
  // Interrupted: stop what was started and remove the instance before exiting.
  const onSignal = () => void peer.stop().finally(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    let evidence: Awaited<ReturnType<PostfixRun['dkimEvidence']>> | undefined;
    if (r.dkim) {
      r.publishDkim(`pwbench._domainkey.${r.senderDomain}`, peer.dkimTxt!);
      const at = (await r.sinks.counts())[r.probeDomain]!;
      await r.probe(peer.port, `probe@${r.probeDomain}`);
      if ((await r.sinks.expect({ [r.probeDomain]: at + 1 }, 30_000)) === null)
        throw new Error('postfix: the probe was not delivered within 30 s');
      evidence = await r.dkimEvidence(await r.sinks.last(r.probeDomain));
      if (!evidence.signed) throw new Error('postfix+opendkim: the delivered probe has no DKIM-Signature');
    }
    const warm = Math.min(300, r.n);
    const base0 = await r.sinks.counts();
    const w = await r.inject(peer.port, warm, 1);
    await r.sinks.expect(plus(base0, w.accepted), 60_000);
    for (let i = 0; i < 300 && peer.queueSize() > 0; i++) await sleep(200);
    const idle = await r.waitQuiet();
    const loadBefore = r.loadavg();
    const base = await r.sinks.counts();
    const busy0 = r.machineBusyS();
    const inj = await r.inject(peer.port, r.n, r.offset);
    const accepted = sum(inj.accepted);
    const at = await r.sinks.expect(plus(base, inj.accepted), r.timeoutMs);
    const busy1 = r.machineBusyS();
    const wall = ((at ?? wallNow()) - inj.t0) / 1000;
    if (inj.problems.length || w.problems.length) r.log(`# postfix: ${[...w.problems, ...inj.problems].join('; ')}`);
    return {
      postfix_version: peer.version,
      dkim: r.dkim,
      tls: r.tls,
      input_tls: inj.tls,
      delivered_per_s: at ? Math.round(accepted / wall) : 0,
      inject_per_s: Math.round(accepted / ((inj.t1 - inj.t0) / 1000)),
      machine_cpu_s_per_1k: +(((busy1 - busy0) / r.n) * 1000).toFixed(3),
      wall_s: +wall.toFixed(2),
      accepted,
      refused: inj.refused,
      complete: at !== null && accepted === r.n,
      idle_before_pct: idle,
      loadavg_before: loadBefore,
      loadavg_after: r.loadavg(),
      input_problems: inj.problems,
      ...(evidence ? { dkim_detail: evidence } : {}),
    };
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await peer.stop();
  }
}
