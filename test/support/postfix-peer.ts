import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { selfSigned } from './certs.js';

/**
 * A real receiving MTA for interop tests: a private Postfix instance with OpenDKIM verifying as a
 * milter, on its own loopback address (127.0.0.9), relaying what it accepts to a loopback sink.
 *
 * Design. Nothing of the machine's mail system is used or changed: the instance has its own
 * configuration directory (`postfix -c DIR`), queue and data directories and log file, all under a
 * temporary directory removed afterwards; /etc/postfix is only read (master.cf as a template). The
 * receiving domain is a relay domain with a recipient table, so an unknown recipient gets Postfix's
 * own `550 5.1.1 … User unknown in relay recipient table` at RCPT. OpenDKIM reads the public keys
 * from a file (its `TestPublicKeys` option) holding exactly the TXT records the API says to
 * publish, and adds its Authentication-Results header before Postfix relays the message on.
 *
 * Needs root (Postfix's master runs as root and drops to `postfix`), the postfix and opendkim
 * binaries (`.ci/run` installs them with apt-get) and the address 127.0.0.9 (Linux routes all of
 * 127.0.0.0/8 to lo). `postfixUnavailable()` says why not, for a visible skip.
 */
export const POSTFIX_ADDRESS = '127.0.0.9';

export interface PostfixPeerOptions {
  /** The domain Postfix receives for, e.g. `dest.test`; its MX host name is `mx.<domain>`. */
  domain: string;
  /** Addresses Postfix knows; any other at the domain gets 550 5.1.1. */
  recipients: string[];
  /** Where accepted mail is relayed: the loopback sink's port. */
  relayPort: number;
  /** The smtpd port on 127.0.0.9 (from `reservePostfixPort()`, so a platform can be pointed at it first). */
  port: number;
  /** The DKIM TXT records OpenDKIM verifies against (name → value). */
  dkimRecords: { name: string; value: string }[];
}

export interface PostfixPeer {
  address: string;
  port: number;
  /** The instance's mail log (Postfix's maillog_file). */
  log(): string;
}

const has = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

/** Why a private Postfix cannot run here, or null when it can. */
export async function postfixUnavailable(): Promise<string | null> {
  if (process.platform !== 'linux') return 'needs Linux';
  if (process.getuid?.() !== 0) return 'needs root (Postfix master runs as root)';
  const missing = ['postfix', 'postconf', 'opendkim'].filter((c) => !has(c) && !existsSync(`/usr/sbin/${c}`));
  if (missing.length) return `${missing.join(', ')} not installed (.ci/run installs them with apt-get)`;
  if (!existsSync('/etc/postfix/master.cf')) return 'no /etc/postfix/master.cf to copy';
  try {
    await freePort();
  } catch (e) {
    return `cannot listen on ${POSTFIX_ADDRESS}: ${(e as Error).message}`;
  }
  return null;
}

/** A port free on 127.0.0.9 now, for the instance's smtpd. */
export function reservePostfixPort(): Promise<number> {
  return freePort();
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, POSTFIX_ADDRESS, () => {
      const a = s.address();
      s.close(() => (a && typeof a === 'object' ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr || r.stdout}`);
  return r.stdout;
}

async function waitForPort(port: number, what: string, logOf: () => string): Promise<void> {
  const { connect } = await import('node:net');
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = connect({ host: POSTFIX_ADDRESS, port });
      c.once('connect', () => {
        c.destroy();
        resolve(true);
      });
      c.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not listen on ${POSTFIX_ADDRESS}:${port} within 20 s\n${logOf()}`);
}

/** Starts the instance and OpenDKIM; `t.after` stops both (by their pids) and removes the directory. */
export async function startPostfixPeer(t: Pick<TestContext, 'after'>, o: PostfixPeerOptions): Promise<PostfixPeer> {
  const dir = mkdtempSync('/tmp/pw-postfix-');
  chmodSync(dir, 0o755); // the postfix user walks into its data and queue directories
  const conf = join(dir, 'conf');
  for (const d of [conf, join(dir, 'queue'), join(dir, 'data')]) mkdirSync(d, { recursive: true });
  run('chown', ['postfix:postfix', join(dir, 'data')]);
  const port = o.port;
  const milterPort = await freePort();
  const maillog = join(dir, 'maillog');
  const odkLog = join(dir, 'opendkim.log');
  const log = () =>
    [existsSync(maillog) ? readFileSync(maillog, 'utf8') : '', existsSync(odkLog) ? readFileSync(odkLog, 'utf8') : ''].join('\n');

  const { key, cert } = selfSigned();
  writeFileSync(join(conf, 'key.pem'), key, { mode: 0o600 });
  writeFileSync(join(conf, 'cert.pem'), cert);
  writeFileSync(join(conf, 'relay_recipients'), o.recipients.map((r) => `${r} ok\n`).join(''));
  writeFileSync(join(conf, 'transport'), `${o.domain} smtp:[127.0.0.1]:${o.relayPort}\n`);
  writeFileSync(
    join(conf, 'main.cf'),
    [
      'compatibility_level = 3.6',
      `queue_directory = ${join(dir, 'queue')}`,
      `data_directory = ${join(dir, 'data')}`,
      `maillog_file = ${maillog}`,
      'maillog_file_prefixes = /tmp',
      // The listener below binds 127.0.0.9 itself; inet_interfaces may only name configured addresses.
      'inet_interfaces = loopback-only',
      'inet_protocols = ipv4',
      `myhostname = mx.${o.domain}`,
      `mydomain = ${o.domain}`,
      'mydestination =',
      'local_recipient_maps =',
      'alias_maps =',
      'alias_database =',
      `relay_domains = ${o.domain}`,
      `relay_recipient_maps = texthash:${join(conf, 'relay_recipients')}`,
      `transport_maps = texthash:${join(conf, 'transport')}`,
      'mynetworks = 127.0.0.0/8',
      'smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination',
      `smtpd_milters = inet:${POSTFIX_ADDRESS}:${milterPort}`,
      'non_smtpd_milters =',
      'milter_default_action = tempfail',
      'milter_protocol = 6',
      'smtpd_tls_security_level = may',
      `smtpd_tls_cert_file = ${join(conf, 'cert.pem')}`,
      `smtpd_tls_key_file = ${join(conf, 'key.pem')}`,
      'smtpd_tls_received_header = yes',
      'smtp_tls_security_level = none',
      'smtputf8_enable = yes',
      'biff = no',
      // No delay between a message's arrival and its relay: the test waits on the sink.
      'in_flow_delay = 0',
      '',
    ].join('\n'),
  );
  copyFileSync('/etc/postfix/master.cf', join(conf, 'master.cf'));
  run('postconf', ['-c', conf, '-F', '*/*/chroot = n']);
  run('postconf', ['-c', conf, '-M#', 'smtp/inet']);
  run('postconf', ['-c', conf, '-Me', `${POSTFIX_ADDRESS}:${port}/inet = ${POSTFIX_ADDRESS}:${port} inet n - n - - smtpd`]);

  // OpenDKIM, verifying only, with the published keys from a file instead of DNS.
  writeFileSync(join(conf, 'dkim-keys'), o.dkimRecords.map((r) => `${r.name} ${r.value}\n`).join(''));
  writeFileSync(
    join(conf, 'opendkim.conf'),
    [
      'Syslog no',
      'Mode v',
      `Socket inet:${milterPort}@${POSTFIX_ADDRESS}`,
      `AuthservID mx.${o.domain}`,
      `TestPublicKeys ${join(conf, 'dkim-keys')}`,
      'AlwaysAddARHeader yes',
      'Background no',
      'LogResults yes',
      '',
    ].join('\n'),
  );
  let opendkim: ChildProcess | undefined;
  let started = false;
  t.after(() => {
    if (started) spawnSync('postfix', ['-c', conf, 'stop'], { stdio: 'ignore', timeout: 30_000 });
    if (opendkim?.pid && opendkim.exitCode === null) opendkim.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });
  opendkim = spawn('opendkim', ['-f', '-x', join(conf, 'opendkim.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
  const odkOut: Buffer[] = [];
  opendkim.stdout?.on('data', (c: Buffer) => odkOut.push(c));
  opendkim.stderr?.on('data', (c: Buffer) => {
    odkOut.push(c);
    writeFileSync(odkLog, Buffer.concat(odkOut));
  });
  await waitForPort(milterPort, 'opendkim', log);

  // postfix(1) writes its fatal errors to a terminal or syslog only: run it under script(1).
  const start = spawnSync('script', ['-qec', `postfix -c ${conf} start`, '/dev/null'], { encoding: 'utf8', timeout: 60_000 });
  if (start.status !== 0) throw new Error(`postfix -c ${conf} start failed: ${start.stdout}${start.stderr}\n${log()}`);
  started = true;
  await waitForPort(port, 'postfix smtpd', log);
  return { address: POSTFIX_ADDRESS, port, log };
}
