/**
 * TLS certificates for our SMTP listeners (STARTTLS on submission and inbound MX).
 *
 * A fresh install needs *some* certificate so that STARTTLS works from the first boot: peers
 * delivering to an MX use TLS opportunistically and do not check it (RFC 3207 §4, RFC 7435), and
 * DANE-EE (`3 1 1`, RFC 7672 §3.1.1) pins the key, not a CA. So we generate a self-signed
 * certificate once, keep it next to the data, and reuse it on every start.
 *
 * @peculiar/x509 writes and signs the certificate over node's WebCrypto (passed on every call, not
 * set as its global provider); node's `X509Certificate` reads it back. The library resolves its
 * algorithms through tsyringe, which needs `reflect-metadata` loaded first. Keys are ECDSA P-256 by
 * default (fast to generate, small handshake, negotiated by every maintained TLS stack);
 * `rsa-2048` remains for peers that only speak RSA suites.
 */
import 'reflect-metadata';
import { createHash, createPrivateKey, KeyObject, randomBytes, webcrypto, X509Certificate } from 'node:crypto';
import { mkdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import type { Clock } from '../core/index.js';
import { PostwardenError, systemClock, validationError } from '../core/index.js';

export type KeyAlgorithm = 'ecdsa-p256' | 'rsa-2048';

export interface CertificateInfo {
  subject: string;
  issuer: string;
  /** SAN values without their type prefix (`mx.example.com`, `127.0.0.1`). */
  sans: string[];
  /** ISO 8601. */
  notBefore: string;
  notAfter: string;
  /** Hex SHA-256 of the certificate DER: DANE `3 0 1` (RFC 6698 §2.1.2–2.1.3). */
  sha256: string;
  /** Hex SHA-256 of the SubjectPublicKeyInfo DER: DANE `3 1 1`, what RFC 7672 §3.1.1 recommends. */
  spkiSha256: string;
}

const DAY_MS = 86_400_000;
/** Long enough not to need renewal in practice: opportunistic and DANE-EE peers ignore expiry. */
const DEFAULT_DAYS = 825;
/** Backdate so a peer whose clock runs a little behind ours does not see "not yet valid". */
const BACKDATE_MS = 3_600_000;
const { subtle } = webcrypto;

/** A Record over the union, so a new algorithm that is not described here fails to compile. */
const KEY_PARAMS: Record<KeyAlgorithm, webcrypto.RsaHashedKeyGenParams | webcrypto.EcKeyGenParams> = {
  'ecdsa-p256': { name: 'ECDSA', namedCurve: 'P-256' },
  'rsa-2048': { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
};

/** Imports an issuer's PEM key into WebCrypto, which needs to be told the algorithm. */
async function importSigningKey(pem: string): Promise<webcrypto.CryptoKey> {
  const key = createPrivateKey(pem);
  const curve = key.asymmetricKeyDetails?.namedCurve;
  const algorithm = key.asymmetricKeyType === 'rsa' ? 'rsa-2048' : curve === 'prime256v1' ? 'ecdsa-p256' : undefined;
  if (!algorithm) throw validationError([{ path: '/issuer/key', message: 'the issuer key must be ECDSA P-256 or RSA' }]);
  return subtle.importKey('pkcs8', key.export({ type: 'pkcs8', format: 'der' }), KEY_PARAMS[algorithm], false, ['sign']);
}

function checkHostnames(hostnames: string[]): void {
  // dNSName is IA5String: an IDN goes in as its A-label (RFC 5280 §7.2), so only printable ASCII.
  const bad = hostnames.findIndex((h) => h.length === 0 || h.length > 253 || /[^\x21-\x7e]|,/.test(h));
  if (bad >= 0) throw validationError([{ path: `/hostnames/${bad}`, message: 'not a hostname or IP address' }]);
}

/** RFC 5280 §4.2.1.6: IP literals become iPAddress, the rest dNSName. */
function generalName(host: string): x509.JsonGeneralName {
  // IPv6 goes in as the URL parser's canonical form: x509 2.2.0 misencodes a trailing dotted quad (`::ffff:192.0.2.1`).
  if (isIP(host) === 6) return { type: 'ip', value: new URL(`http://[${host}]/`).hostname.slice(1, -1) };
  return { type: isIP(host) === 4 ? 'ip' : 'dns', value: host };
}

export interface IssueOptions {
  /** Subject alternative names; the first is also the subject CN. May be empty for a CA. */
  hostnames: string[];
  /** Subject CN when it should not be the first hostname (a CA's name). */
  commonName?: string;
  organization?: string;
  notBefore: Date;
  notAfter: Date;
  /** The signing CA as PEM; absent, the certificate signs itself. */
  issuer?: { cert: string; key: string };
  /** A CA may sign leaf certificates (basicConstraints cA, pathLen 0); a leaf may not. */
  ca?: boolean;
  /** The new key's algorithm; default ECDSA P-256. */
  algorithm?: KeyAlgorithm;
}

/** Generates a key and an X.509 v3 certificate for it (RFC 5280 §4.1); both PEM, the key PKCS#8. */
export async function issueCertificate(o: IssueOptions): Promise<{ key: string; cert: string }> {
  checkHostnames(o.hostnames);
  const algorithm = o.algorithm ?? 'ecdsa-p256';
  const keys = (await subtle.generateKey(KEY_PARAMS[algorithm], true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const issuerCert = o.issuer ? new x509.X509Certificate(o.issuer.cert) : undefined;
  const signingKey = o.issuer ? await importSigningKey(o.issuer.key) : keys.privateKey;
  const cn = o.commonName ?? o.hostnames[0] ?? 'localhost';
  // RFC 5280 Appendix A upper bound for a CN is 64 characters; the SAN carries the full names anyway.
  const subject: x509.JsonName = [...(o.organization ? [{ O: [o.organization] }] : []), { CN: [cn.slice(0, 64)] }];
  const SKI = x509.SubjectKeyIdentifierExtension;
  const subjectKeyId = await SKI.create(keys.publicKey, false, webcrypto);
  // RFC 5280 §4.2.1.1: the authority key id is the issuer's subject key id (ours when self-signed).
  const issuerKeyId = issuerCert
    ? (issuerCert.getExtension(SKI) ?? (await SKI.create(issuerCert.publicKey, false, webcrypto))).keyId
    : subjectKeyId.keyId;
  const F = x509.KeyUsageFlags;
  let usage = F.digitalSignature;
  if (o.ca) usage |= F.keyCertSign | F.cRLSign;
  else if (algorithm === 'rsa-2048') usage |= F.keyEncipherment; // RSA key transport suites (RFC 5246 §7.4.7.1)
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(o.ca === true, o.ca ? 0 : undefined, true),
    new x509.KeyUsagesExtension(usage, true),
    subjectKeyId,
    new x509.AuthorityKeyIdentifierExtension(issuerKeyId),
  ];
  if (o.hostnames.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(o.hostnames.map(generalName)));
  // serverAuth + clientAuth: an MTA presents the same certificate when it delivers.
  if (!o.ca) extensions.push(new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]));
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x01; // positive and non-zero, at most 20 octets (RFC 5280 §4.1.2.2)
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: serial.toString('hex'),
      subject,
      issuer: issuerCert ? issuerCert.subjectName : subject,
      notBefore: o.notBefore,
      notAfter: o.notAfter,
      publicKey: keys.publicKey,
      signingKey,
      signingAlgorithm: { name: signingKey.algorithm.name, hash: 'SHA-256' },
      extensions,
    },
    webcrypto,
  );
  const key = KeyObject.from(keys.privateKey).export({ type: 'pkcs8', format: 'pem' }).toString();
  return { key, cert: cert.toString('pem') + '\n' };
}

export interface SelfSignedOptions {
  hostnames: string[];
  /** Validity in days from now; default 825. */
  days?: number;
  clock?: Clock;
  algorithm?: KeyAlgorithm;
}

/** A self-signed certificate for `hostnames` (the first is also the subject CN), valid from now. */
export async function generateSelfSigned(opts: SelfSignedOptions): Promise<{ key: string; cert: string }> {
  if (opts.hostnames.length === 0) throw validationError([{ path: '/hostnames', message: 'at least one hostname is needed' }]);
  const now = (opts.clock ?? systemClock).now();
  return issueCertificate({
    hostnames: opts.hostnames,
    organization: 'Postwarden',
    notBefore: new Date(now - BACKDATE_MS),
    notAfter: new Date(now + (opts.days ?? DEFAULT_DAYS) * DAY_MS),
    ...(opts.algorithm ? { algorithm: opts.algorithm } : {}),
  });
}

const sha256Hex = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

export function certificateInfo(pem: string): CertificateInfo {
  const x = new X509Certificate(pem);
  return {
    subject: x.subject.replace(/\n/g, ', '),
    issuer: x.issuer.replace(/\n/g, ', '),
    sans: (x.subjectAltName ?? '')
      .split(', ')
      .filter(Boolean)
      .map((s) => s.replace(/^(DNS|IP Address|email|URI):/, '').replace(/^"(.*)"$/, '$1'))
      // Node prints IPv6 SANs uncompressed (`0:0:0:0:0:0:0:1`); report the RFC 5952 form (`::1`).
      .map((v) => (isIP(v) === 6 ? new URL(`http://[${v}]/`).hostname.slice(1, -1) : v)),
    notBefore: new Date(x.validFrom).toISOString(),
    notAfter: new Date(x.validTo).toISOString(),
    sha256: sha256Hex(x.raw),
    spkiSha256: sha256Hex(x.publicKey.export({ type: 'spki', format: 'der' })),
  };
}

export const KEY_FILE = 'smtp-tls.key';
export const CERT_FILE = 'smtp-tls.crt';
const LOCK_FILE = 'smtp-tls.lock';
/** Generating even an RSA-2048 pair takes well under a second; a lock this old was left by a crash. */
const LOCK_STALE_MS = 30_000;
/** Waiting while another process holds the lock: at most 400 × 100 ms, past the stale age. */
const [LOCK_POLLS, LOCK_POLL_MS] = [400, 100];

const readOptional = (path: string): Promise<string | null> =>
  readFile(path, 'utf8').catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? null : Promise.reject(e)));

function pairError(message: string, path: string, problem: string, cause?: unknown): PostwardenError {
  return new PostwardenError('CONFIG_INVALID', message, { errors: [{ path, message: problem }] }, { cause });
}

/** The pair on disk, checked to belong together; null when there is none (or only a key, see below). */
async function readPair(dir: string): Promise<{ key: string; cert: string } | null> {
  const [keyPath, certPath] = [join(dir, KEY_FILE), join(dir, CERT_FILE)];
  const [key, cert] = await Promise.all([readOptional(keyPath), readOptional(certPath)]);
  if (cert === null) return null; // we write the key first, so a lone key is a write cut short
  if (key === null) throw pairError(`${certPath} exists without its key ${KEY_FILE}`, keyPath, 'missing');
  let matches: boolean;
  try {
    // X509_check_private_key: the certificate's public key against the one the private key derives.
    matches = new X509Certificate(cert).checkPrivateKey(createPrivateKey(key));
  } catch (e) {
    throw pairError(`cannot parse the TLS key or certificate in ${dir}`, dir, (e as Error).message, e);
  }
  if (!matches) throw pairError(`${KEY_FILE} does not belong to ${CERT_FILE} in ${dir}`, keyPath, 'key does not match the certificate');
  return { key, cert };
}

/** Write to a temporary name, flush, then rename: readers see no file or the whole file. */
async function writeAtomic(path: string, data: string, mode: number): Promise<void> {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, data, { mode, flag: 'wx', flush: true });
  await rename(tmp, path);
}

/**
 * Reads `dir/smtp-tls.key` + `dir/smtp-tls.crt`, or generates a self-signed pair and writes it
 * (key 0600, cert 0644). Several processes may start on one directory at once; whoever creates the
 * lock file (`wx`) writes, the others wait and read, so nobody pairs one process's key with
 * another's certificate. A lock older than any generation is a crash's leftover and is removed.
 */
export async function loadOrCreateCertificate(
  opts: SelfSignedOptions & { dir: string },
): Promise<{ key: string; cert: string; created: boolean }> {
  await mkdir(opts.dir, { recursive: true });
  const lockPath = join(opts.dir, LOCK_FILE);
  for (let i = 0; i < LOCK_POLLS; i++) {
    const found = await readPair(opts.dir);
    if (found) return { ...found, created: false };
    try {
      await writeFile(lockPath, '', { flag: 'wx', mode: 0o600 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      // File times are wall-clock time, so the real clock here, not the injected one.
      const lockedAt = (await stat(lockPath).catch(() => null))?.mtimeMs ?? Date.now();
      if (Date.now() - lockedAt > LOCK_STALE_MS) await unlink(lockPath).catch(() => undefined);
      else await new Promise((r) => setTimeout(r, LOCK_POLL_MS));
      continue;
    }
    try {
      const raced = await readPair(opts.dir); // another process may have finished between our read and the lock
      if (raced) return { ...raced, created: false };
      const pair = await generateSelfSigned(opts);
      await writeAtomic(join(opts.dir, KEY_FILE), pair.key, 0o600);
      await writeAtomic(join(opts.dir, CERT_FILE), pair.cert, 0o644);
      return { ...pair, created: true };
    } finally {
      await unlink(lockPath).catch(() => undefined);
    }
  }
  const message = `timed out waiting for ${lockPath}; remove it if no Postwarden process is starting`;
  throw new PostwardenError('INTERNAL', message, { path: lockPath });
}
