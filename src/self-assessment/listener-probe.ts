import { connect as netConnect, type Socket } from 'node:net';
import { type PeerCertificate, type SecureVersion, type TLSSocket, connect as tlsConnect } from 'node:tls';

/**
 * Probes one of our own listeners as a remote would: which TLS versions it completes a handshake
 * with (TLS 1.0 and 1.1 too: RFC 8996 deprecates them, so accepting one is a finding), whether it
 * accepts weak cipher suites, its certificate chain and expiry, whether an SMTP listener offers
 * STARTTLS (RFC 3207), and whether an MX relays for a domain that is not ours (RFC 5321 §3.6.2).
 *
 * OpenSSL 3 refuses TLS 1.0/1.1 and the weak suites at its default security level even as a client,
 * so the probe lowers its own level (`@SECLEVEL=0`) to be able to ask; it never sends mail.
 */
export type ProbeMode = 'implicit-tls' | 'starttls';

export interface ProbeTarget {
  /** What the finding names: `submission`, `mx`, `https`. */
  name: string;
  host: string;
  port: number;
  mode: ProbeMode;
  /** SNI and the name the certificate must carry. */
  servername: string;
  /** SMTP listeners where STARTTLS must be offered (submission, MX). */
  requireStarttls?: boolean;
  /** Try to relay through it (the MX). */
  relayCheck?: boolean;
}

export interface VersionResult {
  version: SecureVersion;
  accepted: boolean;
  cipher?: string;
  error?: string;
}

export interface ProbeResult {
  target: ProbeTarget;
  reachable: boolean;
  error?: string;
  starttlsOffered?: boolean;
  versions: VersionResult[];
  weakCipherAccepted?: string;
  certificate?: {
    subject: string;
    issuer: string;
    validTo: string;
    daysLeft: number;
    trusted: boolean;
    trustError?: string;
    chainLength: number;
  };
  /** The MX accepted a recipient at a domain that is not ours. */
  openRelay?: { reply: string };
}

const VERSIONS: SecureVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];
const WEAK_CIPHERS = 'RC4:3DES:DES:NULL:EXPORT:aNULL:eNULL@SECLEVEL=0';
const DAY_MS = 86_400_000;

/** A line-oriented SMTP client over one socket, enough for EHLO, STARTTLS and an envelope. */
function smtpDialog(socket: Socket, timeoutMs: number) {
  let buffer = '';
  const waiters: Array<(reply: string) => void> = [];
  const onData = (chunk: Buffer) => {
    buffer += chunk.toString('latin1');
    // A reply ends at a line whose fourth character is a space (RFC 5321 §4.2.1).
    for (;;) {
      const lines = buffer.split('\r\n');
      const end = lines.findIndex((l) => /^\d{3} /.test(l) || /^\d{3}$/.test(l));
      if (end < 0) return;
      const reply = lines.slice(0, end + 1).join('\n');
      buffer = lines.slice(end + 1).join('\r\n');
      waiters.shift()?.(reply);
    }
  };
  socket.on('data', onData);
  const next = () =>
    new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('SMTP reply timed out')), timeoutMs);
      waiters.push((r) => {
        clearTimeout(timer);
        resolve(r);
      });
    });
  return {
    next,
    async command(line: string): Promise<string> {
      const reply = next();
      socket.write(`${line}\r\n`);
      return reply;
    },
    detach: () => socket.off('data', onData),
  };
}

function openSocket(host: string, port: number, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = netConnect({ host, port });
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error('connect timed out'));
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(timer);
      resolve(s);
    });
    s.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/** A socket ready for the TLS handshake: plain for implicit TLS, after EHLO + STARTTLS for SMTP. */
async function beforeTls(t: ProbeTarget, timeoutMs: number): Promise<{ socket: Socket; starttls?: boolean }> {
  const socket = await openSocket(t.host, t.port, timeoutMs);
  if (t.mode === 'implicit-tls') return { socket };
  const d = smtpDialog(socket, timeoutMs);
  try {
    await d.next();
    const ehlo = await d.command('EHLO self-assessment.invalid');
    if (!/^250[- ]STARTTLS\b/im.test(ehlo)) return { socket, starttls: false };
    const go = await d.command('STARTTLS');
    if (!go.startsWith('220')) return { socket, starttls: false };
    return { socket, starttls: true };
  } finally {
    d.detach();
  }
}

function handshake(
  socket: Socket,
  t: ProbeTarget,
  o: { minVersion: SecureVersion; maxVersion: SecureVersion; ciphers: string; ca?: string[]; timeoutMs: number },
): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({
      socket,
      servername: t.servername,
      minVersion: o.minVersion,
      maxVersion: o.maxVersion,
      ciphers: o.ciphers,
      rejectUnauthorized: false,
      ...(o.ca ? { ca: o.ca } : {}),
    });
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error('TLS handshake timed out'));
    }, o.timeoutMs);
    s.once('secureConnect', () => {
      clearTimeout(timer);
      resolve(s);
    });
    s.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

function chainLength(cert: PeerCertificate & { issuerCertificate?: PeerCertificate }): number {
  let n = 0;
  let c: (PeerCertificate & { issuerCertificate?: PeerCertificate }) | undefined = cert;
  const seen = new Set<string>();
  while (c && !seen.has(c.fingerprint256) && n < 10) {
    seen.add(c.fingerprint256);
    n++;
    c = c.issuerCertificate as typeof c;
  }
  return n;
}

export async function probeListener(t: ProbeTarget, o: { ca?: string[]; timeoutMs?: number; now: number }): Promise<ProbeResult> {
  const timeoutMs = o.timeoutMs ?? 5000;
  const result: ProbeResult = { target: t, reachable: false, versions: [] };
  const attempt = async (min: SecureVersion, max: SecureVersion, ciphers: string) => {
    const { socket, starttls } = await beforeTls(t, timeoutMs);
    if (starttls !== undefined) result.starttlsOffered = starttls;
    if (starttls === false) {
      socket.destroy();
      throw new Error('STARTTLS not offered');
    }
    return handshake(socket, t, { minVersion: min, maxVersion: max, ciphers, timeoutMs, ...(o.ca ? { ca: o.ca } : {}) });
  };
  for (const version of VERSIONS) {
    try {
      const s = await attempt(version, version, 'DEFAULT@SECLEVEL=0');
      result.reachable = true;
      result.versions.push({ version, accepted: true, cipher: s.getCipher().name });
      if (!result.certificate) {
        const cert = s.getPeerCertificate(true);
        const validTo = new Date(cert.valid_to);
        result.certificate = {
          subject: String(cert.subject?.CN ?? ''),
          issuer: String(cert.issuer?.CN ?? ''),
          validTo: validTo.toISOString(),
          daysLeft: Math.floor((validTo.getTime() - o.now) / DAY_MS),
          trusted: s.authorized,
          ...(s.authorizationError ? { trustError: String(s.authorizationError) } : {}),
          chainLength: chainLength(cert),
        };
      }
      s.destroy();
    } catch (e) {
      const msg = (e as Error).message;
      if (result.starttlsOffered === false) {
        result.reachable = true;
        break;
      }
      if (/ECONNREFUSED|connect timed out|EHOSTUNREACH/.test(msg)) {
        result.error = msg;
        return result;
      }
      result.reachable = true;
      result.versions.push({ version, accepted: false, error: msg });
    }
  }
  if (result.versions.some((v) => v.accepted)) {
    try {
      const s = await attempt('TLSv1', 'TLSv1.2', WEAK_CIPHERS);
      result.weakCipherAccepted = s.getCipher().name;
      s.destroy();
    } catch {
      // Refused: as it should be.
    }
  }
  if (t.relayCheck) {
    const relayed = await relayAttempt(t, timeoutMs).catch(() => undefined);
    if (relayed) result.openRelay = { reply: relayed };
  }
  return result;
}

/**
 * RFC 5321 §3.6.2: an MX must not accept a recipient at a domain it does not serve from an
 * unauthenticated client. `.invalid` (RFC 2606) can never be ours. Ends with RSET and QUIT before DATA.
 */
async function relayAttempt(t: ProbeTarget, timeoutMs: number): Promise<string | undefined> {
  const socket = await openSocket(t.host, t.port, timeoutMs);
  const d = smtpDialog(socket, timeoutMs);
  try {
    await d.next();
    await d.command('EHLO self-assessment.invalid');
    const mail = await d.command('MAIL FROM:<probe@self-assessment.invalid>');
    if (!mail.startsWith('2')) return undefined;
    const rcpt = await d.command('RCPT TO:<relay-test@relay-check.invalid>');
    await d.command('RSET').catch(() => '');
    return rcpt.startsWith('2') ? rcpt.replace(/\n/g, ' ') : undefined;
  } finally {
    socket.end('QUIT\r\n');
    socket.destroy();
  }
}
