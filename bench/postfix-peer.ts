import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Sinks } from './sink-process.js';

/**
 * Debian's Postfix as the peer MTA of `npm run bench -- deliver --vs postfix`, set up the way an
 * operator would set up a loopback relay: it listens on one 127.0.0.1 port, accepts from
 * 127.0.0.0/8 only, delivers nothing locally, and sends each destination domain to its sink through
 * a transport map (`smtp:[127.0.0.1]:PORT`). For the DKIM variant the opendkim milter signs every
 * message with an RSA-2048 key.
 *
 * It changes the system: /etc/postfix/main.cf and master.cf are rewritten (postconf) and restored
 * from a copy by `stop()`; the opendkim key and config live in /var/lib/postwarden-bench-opendkim
 * (opendkim refuses paths other users can write, so not /tmp). Postfix and opendkim are stopped by
 * `stop()`; if Postfix was running before, it is started again with the restored configuration.
 * Every wait is bounded, and only 127.0.0.1 is ever dialled.
 */

const MAIN_CF = '/etc/postfix/main.cf';
const MASTER_CF = '/etc/postfix/master.cf';
const BACKUP = '.postwarden-bench.bak';
const TRANSPORT_FILE = '/etc/postfix/postwarden-bench-transport';
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
 * preseed ("Local only", so the package does not ask) and `apt-get install -y`. Needs root.
 */
export function ensurePostfixInstalled(log: (s: string) => void): void {
  const missing = ['postfix', 'postconf', 'smtp-source', 'opendkim', 'opendkim-genkey'].filter((b) => !has(b));
  if (!missing.length) return;
  if (process.getuid?.() !== 0)
    throw new Error(`--vs postfix needs ${missing.join(', ')}: run as root so the bench can apt-get install them`);
  log(`# installing postfix opendkim opendkim-tools (missing: ${missing.join(', ')})`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('debconf-set-selections', [], {
    input: 'postfix postfix/main_mailer_type select Local only\npostfix postfix/mailname string bench.localdomain\n',
    timeout: 30_000,
  });
  execFileSync('apt-get', ['install', '-y', '--no-install-recommends', 'postfix', 'opendkim', 'opendkim-tools'], {
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
  /** The submission port Postfix listens on (127.0.0.1). */
  port: number;
  /** The DKIM public key TXT value (`v=DKIM1; k=rsa; p=…`) when signing. */
  dkimTxt?: string;
  version: string;
  /** Stops opendkim and Postfix and restores the configuration. Safe to call twice. */
  stop(): Promise<void>;
}

function postfixRunning(): boolean {
  try {
    run('postfix', ['status']);
    return true;
  } catch {
    return false;
  }
}

function masterPid(): number | undefined {
  try {
    const pid = Number(readFileSync('/var/spool/postfix/pid/master.pid', 'utf8').trim());
    if (!pid) return undefined;
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

async function stopPostfix(): Promise<void> {
  const pid = masterPid();
  try {
    run('postfix', ['stop'], 30_000);
  } catch {
    if (pid) process.kill(pid, 'SIGTERM');
  }
  for (let i = 0; i < 100 && masterPid() !== undefined; i++) await sleep(100);
}

/** Messages still in the Postfix queue (active, incoming, deferred, maildrop, hold). */
export function postfixQueueSize(): number {
  let n = 0;
  for (const d of ['active', 'incoming', 'deferred', 'maildrop', 'hold']) {
    try {
      n += Number(run('sh', ['-c', `find /var/spool/postfix/${d} -type f | wc -l`]).trim());
    } catch {
      // absent directory: nothing queued there
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

export async function startPostfixPeer(opts: PostfixPeerOptions): Promise<PostfixPeer> {
  const wasRunning = postfixRunning();
  if (wasRunning) await stopPostfix();
  for (const f of [MAIN_CF, MASTER_CF]) if (!existsSync(f + BACKUP)) copyFileSync(f, f + BACKUP);
  const port = await freePort();
  let opendkim: { child: ChildProcess; txt: string } | undefined;
  let stopped = false;

  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await stopPostfix();
    if (opendkim && opendkim.child.exitCode === null) {
      opendkim.child.kill('SIGTERM');
      await Promise.race([new Promise((r) => opendkim!.child.once('exit', r)), sleep(5000)]);
      if (opendkim.child.exitCode === null) opendkim.child.kill('SIGKILL');
    }
    for (const f of [MAIN_CF, MASTER_CF]) {
      if (existsSync(f + BACKUP)) {
        copyFileSync(f + BACKUP, f);
        rmSync(f + BACKUP);
      }
    }
    rmSync(TRANSPORT_FILE, { force: true });
    if (wasRunning) run('postfix', ['start']);
  };

  try {
    // texthash: needs no postmap. One line per destination, as an operator's transport(5) map.
    writeFileSync(
      TRANSPORT_FILE,
      Object.entries(opts.routes)
        .map(([d, p]) => `${d} smtp:[127.0.0.1]:${p}\n`)
        .join(''),
    );
    const domains = Object.keys(opts.routes).join(', ');
    run('postconf', [
      '-e',
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
      `transport_maps = texthash:${TRANSPORT_FILE}`,
      'relayhost =',
      'default_transport = smtp',
      'maillog_file = /var/log/postfix-bench.log',
      `smtp_tls_security_level = ${opts.tls}`,
      'smtpd_milters =',
      'non_smtpd_milters =',
    ]);
    // No chroot: a container's /var/spool/postfix/etc is not populated (resolv.conf, services).
    run('postconf', ['-F', '*/*/chroot = n']);
    // Our own port instead of 25: the default smtp/inet service is commented out, ours added.
    run('postconf', ['-M#', 'smtp/inet']);
    run('postconf', ['-Me', `127.0.0.1:${port}/inet = 127.0.0.1:${port} inet n - n - - smtpd`]);
    if (opts.tls === 'may') {
      // Without this, Postfix does not reuse a connection once STARTTLS ran on it: every message
      // would pay a TCP connect and a TLS handshake. Reuse needs the tlsproxy service (Postfix ≥ 3.4),
      // which Debian's master.cf ships commented out.
      run('postconf', ['-Me', 'tlsproxy/unix = tlsproxy unix - - n - 0 tlsproxy']);
      run('postconf', ['-e', 'smtp_tls_connection_reuse = yes']);
    }
    if (opts.dkim) {
      const milterPort = await freePort();
      opendkim = await startOpendkim(opts.dkim, milterPort);
      run('postconf', [
        '-e',
        `smtpd_milters = inet:127.0.0.1:${milterPort}`,
        'non_smtpd_milters = $smtpd_milters',
        'milter_default_action = tempfail',
      ]);
    }
    run('postfix', ['check'], 30_000);
    run('postfix', ['start'], 30_000);
    if (!(await waitListening(port, 15_000))) throw new Error(`postfix did not listen on 127.0.0.1:${port} within 15 s`);
  } catch (e) {
    await stop();
    throw e;
  }
  const version = run('postconf', ['-h', 'mail_version']).trim();
  return { port, version, stop, ...(opendkim ? { dkimTxt: opendkim.txt } : {}) };
}

/**
 * Pushes messages into Postfix with its own load generator, smtp-source(1): one process per
 * destination domain, `sessions` concurrent sessions each, the pre-formatted message from `file`,
 * a distinct recipient per message (-N). Resolves when every process exited (bounded).
 */
export async function injectWithSmtpSource(opts: {
  port: number;
  file: string;
  from: string;
  perDomain: Record<string, number>;
  sessions: number;
  timeoutMs: number;
}): Promise<{ failures: string[] }> {
  const failures: string[] = [];
  await Promise.all(
    Object.entries(opts.perDomain).map(
      ([domain, n]) =>
        new Promise<void>((resolve) => {
          if (n <= 0) return resolve();
          const args = [
            '-s',
            String(opts.sessions),
            '-m',
            String(n),
            '-N',
            '-F',
            opts.file,
            '-f',
            opts.from,
            '-t',
            `rcpt@${domain}`,
            '-M',
            'client.bench.localdomain',
            `127.0.0.1:${opts.port}`,
          ];
          const child = spawn('smtp-source', args, { stdio: ['ignore', 'ignore', 'pipe'] });
          let err = '';
          child.stderr!.on('data', (d: Buffer) => {
            if (err.length < 4000) err += d.toString();
          });
          const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
          child.once('exit', (code, signal) => {
            clearTimeout(timer);
            if (code !== 0) failures.push(`smtp-source ${domain}: exit ${code ?? signal} ${err.trim()}`);
            resolve();
          });
        }),
    ),
  );
  return { failures };
}

export interface PostfixRun {
  n: number;
  timeoutMs: number;
  /** The message as Postwarden delivered it; its DKIM-Signature fields are removed. */
  raw: string;
  dkim: boolean;
  tls: 'may' | 'none';
  sinks: Pick<Sinks, 'ports' | 'counts' | 'expect' | 'last'>;
  senderDomain: string;
  /** A sink that keeps whole messages, for the DKIM probe. */
  probeDomain: string;
  /** How n messages split over the destination domains (the same split Postwarden got). */
  split(n: number): Record<string, number>;
  publishDkim(name: string, value: string): void;
  dkimEvidence(raw: string | null): Promise<{ signed: boolean; signatures: string[]; verified: string[] }>;
  /** Waits (bounded) for an idle machine; returns the idle % seen. */
  waitQuiet(): Promise<number>;
  machineBusyS(): number;
  log(line: string): void;
}

const wallNow = () => performance.timeOrigin + performance.now();
const plus = (a: Record<string, number>, b: Record<string, number>) =>
  Object.fromEntries(Object.keys(b).map((d) => [d, (a[d] ?? 0) + b[d]!]));

/**
 * One Postfix measurement, shaped like the Postwarden one: same sinks, same message bytes, same
 * warm-up (300) and idle wait, and the same clock: start of injection → last message counted by
 * the sinks. Postfix is configured, run and restored inside this call.
 */
export async function measurePostfix(r: PostfixRun) {
  const dir = mkdtempSync(join(tmpdir(), 'pw-postfix-'));
  const file = join(dir, 'msg.eml');
  const head = r.raw.slice(0, r.raw.search(/\r?\n\r?\n/));
  const unsigned = head.replace(/^DKIM-Signature:.*(?:\r?\n[ \t].*)*\r?\n/gim, '') + r.raw.slice(head.length);
  writeFileSync(file, unsigned.replace(/\r\n/g, '\n'));
  const peer = await startPostfixPeer({
    routes: r.sinks.ports,
    tls: r.tls,
    ...(r.dkim ? { dkim: { domain: r.senderDomain, selector: 'pwbench' } } : {}),
  });
  // Interrupted: put /etc/postfix back and stop what was started before exiting.
  const onSignal = () => void peer.stop().finally(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const split = r.split(1);
    const sessions = Math.max(1, Math.round(20 / Object.keys(split).length));
    const send = (perDomain: Record<string, number>) =>
      injectWithSmtpSource({ port: peer.port, file, from: `sender@${r.senderDomain}`, perDomain, sessions, timeoutMs: r.timeoutMs });
    let evidence: Awaited<ReturnType<PostfixRun['dkimEvidence']>> | undefined;
    if (r.dkim) {
      r.publishDkim(`pwbench._domainkey.${r.senderDomain}`, peer.dkimTxt!);
      const at = (await r.sinks.counts())[r.probeDomain]!;
      await send({ [r.probeDomain]: 1 });
      if ((await r.sinks.expect({ [r.probeDomain]: at + 1 }, 30_000)) === null)
        throw new Error('postfix: the probe was not delivered within 30 s');
      evidence = await r.dkimEvidence(await r.sinks.last(r.probeDomain));
      if (!evidence.signed) throw new Error('postfix+opendkim: the delivered probe has no DKIM-Signature');
    }
    const warm = Math.min(300, r.n);
    const base0 = await r.sinks.counts();
    const wres = await send(r.split(warm));
    await r.sinks.expect(plus(base0, r.split(warm)), 60_000);
    for (let i = 0; i < 300 && postfixQueueSize() > 0; i++) await sleep(200);
    const idle = await r.waitQuiet();
    const base = await r.sinks.counts();
    const reached = r.sinks.expect(plus(base, r.split(r.n)), r.timeoutMs);
    const busy0 = r.machineBusyS();
    const t0 = wallNow();
    const res = await send(r.split(r.n));
    const t1 = wallNow();
    const at = await reached;
    const busy1 = r.machineBusyS();
    const wall = ((at ?? wallNow()) - t0) / 1000;
    if (res.failures.length || wres.failures.length) r.log(`# postfix: ${[...wres.failures, ...res.failures].join('; ')}`);
    return {
      postfix_version: peer.version,
      dkim: r.dkim,
      tls: r.tls,
      delivered_per_s: at ? Math.round(r.n / wall) : 0,
      inject_per_s: Math.round(r.n / ((t1 - t0) / 1000)),
      machine_cpu_s_per_1k: +(((busy1 - busy0) / r.n) * 1000).toFixed(3),
      wall_s: +wall.toFixed(2),
      complete: at !== null,
      idle_before_pct: idle,
      injector_failures: res.failures,
      ...(evidence ? { dkim_detail: evidence } : {}),
    };
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await peer.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
