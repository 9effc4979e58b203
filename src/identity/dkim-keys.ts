import { createPrivateKey, createPublicKey, generateKeyPair, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { err, ok, PostwardenError, type Result, validationError } from '../core/index.js';
import type { DkimAlgorithm } from '../store/index.js';

/**
 * DKIM key material: generating a key pair, the TXT record that publishes its public half, and
 * selector names. Private keys leave here as PKCS#8 PEM and are sealed by the caller before storage.
 */

export const dkimAlgorithms: readonly DkimAlgorithm[] = ['rsa-2048', 'ed25519'];

/** RFC 8301 §3.2 sets 1024 bits as the floor; this platform refuses anything below 2048. */
export const minRsaBits = 2048;

export interface DkimKeyMaterial {
  algorithm: DkimAlgorithm;
  /** PKCS#8 PEM. Seal it (governance sealSecret) before it touches storage. */
  privateKeyPem: string;
  /** Base64 for the DNS `p=` tag. */
  publicKey: string;
}

const generate = promisify(generateKeyPair);

export function isDkimAlgorithm(value: unknown): value is DkimAlgorithm {
  return typeof value === 'string' && (dkimAlgorithms as readonly string[]).includes(value);
}

/**
 * A new key pair. Generation runs in libuv's thread pool (node:crypto's async generateKeyPair), so an
 * RSA key's ~100 ms of prime search does not block the event loop. Anything but `rsa-2048` or
 * `ed25519` is refused, shorter RSA keys included.
 */
export async function generateDkimKey(algorithm: DkimAlgorithm): Promise<DkimKeyMaterial> {
  if (!isDkimAlgorithm(algorithm)) {
    const rsaBits = typeof algorithm === 'string' ? /^rsa-(\d+)$/.exec(algorithm)?.[1] : undefined;
    const message =
      rsaBits && Number(rsaBits) < minRsaBits
        ? `RSA keys shorter than ${minRsaBits} bits are refused`
        : `must be one of ${dkimAlgorithms.join(', ')}`;
    throw validationError([{ path: '/algorithm', message }], `cannot generate a DKIM key of type ${String(algorithm)}`);
  }
  const pair =
    algorithm === 'rsa-2048' ? await generate('rsa', { modulusLength: 2048, publicExponent: 0x10001 }) : await generate('ed25519');
  return {
    algorithm,
    privateKeyPem: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKey: dnsPublicKey(pair.publicKey),
  };
}

/**
 * The `p=` value for a public key. RSA: the base64 DER SubjectPublicKeyInfo (RFC 6376 §3.6.1, what
 * `openssl rsa -pubout` prints). Ed25519: the bare 32-byte key (RFC 8463 §4.2), which is the tail of
 * its SubjectPublicKeyInfo (RFC 8410 §4).
 */
export function dnsPublicKey(publicKey: KeyObject): string {
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  switch (publicKey.asymmetricKeyType) {
    case 'rsa':
      return spki.toString('base64');
    case 'ed25519':
      return spki.subarray(spki.length - 32).toString('base64');
    default:
      throw new PostwardenError('INTERNAL', `DKIM cannot publish a ${publicKey.asymmetricKeyType} key`);
  }
}

export interface DkimKeyCheck {
  algorithm: DkimAlgorithm;
  /** Modulus length for RSA; 256 for Ed25519. */
  bits: number;
  /** The `p=` value of the key's public half. */
  publicKey: string;
  /** The parsed key, ready to sign with (parsing costs ~0.5 ms on OpenSSL 3, so keep it). */
  key: KeyObject;
}

/**
 * What a private key PEM is, or why it may not sign: RSA below 2048 bits, RSA above 2048 (only
 * `rsa-2048` is a known algorithm here) and any other key type are refused.
 */
export function checkDkimPrivateKey(pem: string): Result<DkimKeyCheck, string> {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: 'pem' });
  } catch (e) {
    return err(`not a readable private key: ${(e as Error).message}`);
  }
  const publicKey = () => dnsPublicKey(createPublicKey(key));
  switch (key.asymmetricKeyType) {
    case 'rsa': {
      const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
      if (bits < minRsaBits) return err(`RSA key of ${bits} bits refused: at least ${minRsaBits} bits are required`);
      if (bits !== 2048) return err(`RSA key of ${bits} bits: only rsa-2048 keys are supported`);
      return ok({ algorithm: 'rsa-2048', bits, publicKey: publicKey(), key });
    }
    case 'ed25519':
      return ok({ algorithm: 'ed25519', bits: 256, publicKey: publicKey(), key });
    default:
      return err(`${key.asymmetricKeyType ?? 'unknown'} keys cannot sign DKIM (RFC 8463 §3 lists rsa and ed25519)`);
  }
}

/** The TXT value to publish at `dkimDnsName(selector, domain)`: RFC 6376 §3.6.1, RFC 8463 §4.2. */
export function dkimTxtValue(algorithm: DkimAlgorithm, publicKey: string): string {
  return `v=DKIM1; k=${algorithm === 'ed25519' ? 'ed25519' : 'rsa'}; p=${publicKey}`;
}

/** Where a selector's key is published (RFC 6376 §3.6.2.1): `<selector>._domainkey.<domain>`. */
export function dkimDnsName(selector: string, domain: string): string {
  return `${selector}._domainkey.${domain}`;
}

const LETTERS = 'abcdefghijklmnopqrstuvwxyz';

/**
 * The next free selector for a domain: `pw` + the UTC year and month + a letter (`pw202611a`, then
 * `pw202611b`, …), so a record in a DNS console says who made it and when. After `z` the suffix grows
 * to two letters (`aa`, `ab`, …).
 */
export function nextSelector(existing: Iterable<string>, now: number): string {
  const d = new Date(now);
  const prefix = `pw${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
  const taken = new Set([...existing].map((s) => s.toLowerCase()));
  const suffixes = [...LETTERS, ...[...LETTERS].flatMap((a) => [...LETTERS].map((b) => a + b))];
  const free = suffixes.find((s) => !taken.has(prefix + s));
  if (!free) throw new PostwardenError('CONFLICT', `no free DKIM selector left for ${prefix}`);
  return prefix + free;
}

/** What a sealed private key is bound to (the governance sealSecret aad): its own row. */
export function dkimKeyAad(keyId: string): string {
  return `dkim_keys:${keyId}`;
}
