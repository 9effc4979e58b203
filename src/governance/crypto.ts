import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';

/**
 * Secrets at rest (DKIM private keys today; webhook secrets and bodies later), sealed with the node
 * master key. A sealed value is one ASCII string, safe in any text column:
 *
 *     v1.<kid>.<salt>.<iv>.<tag>.<ciphertext>        (each part base64url)
 *
 * - Each secret gets its own AES-256-GCM key, derived from the master key with HKDF-SHA256 (RFC 5869)
 *   and a random 128-bit salt. The master key itself never touches AES, so it can also key HMACs
 *   (return paths) without sharing a key between two uses, and the GCM limit of about 2^32 random
 *   IVs per key (NIST SP 800-38D §8.3) never comes near, however many bodies get sealed.
 * - The IV is a random 96 bits, the size GCM is defined for (SP 800-38D §5.2.1.1).
 * - `aad` binds the ciphertext to where it lives (e.g. `dkim_keys:dk_…`): a sealed value copied into
 *   another row does not open there.
 * - `kid` is a 48-bit fingerprint of the master key (an HMAC of a constant, which reveals nothing of
 *   the key), so "this was sealed under another master key" can be told apart from tampering, the
 *   usual mistake after restoring a database without its key file.
 */

const VERSION = 'v1';
const KEY_BYTES = 32;
const SALT_BYTES = 16;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const HKDF_INFO = 'postwarden/sealed-secret/v1';

export type SecretOpenFailure = 'malformed' | 'unsupported_version' | 'wrong_master_key' | 'authentication_failed';

/** Raised when a sealed secret cannot be opened; `reason` says which of the four cases it was. */
export class SecretOpenError extends Error {
  readonly reason: SecretOpenFailure;
  constructor(reason: SecretOpenFailure, message: string) {
    super(message);
    this.name = 'SecretOpenError';
    this.reason = reason;
  }
}

const b64 = (b: Buffer) => b.toString('base64url');

function checkMasterKey(masterKey: Buffer): void {
  if (!Buffer.isBuffer(masterKey) || masterKey.length !== KEY_BYTES) {
    throw new TypeError(`the master key must be ${KEY_BYTES} bytes`);
  }
}

/** A short, stable fingerprint of a master key, shown in errors and safe to log. */
export function masterKeyId(masterKey: Buffer): string {
  checkMasterKey(masterKey);
  return b64(createHmac('sha256', masterKey).update('postwarden/master-key-id').digest().subarray(0, 6));
}

function secretKey(masterKey: Buffer, salt: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', masterKey, salt, HKDF_INFO, KEY_BYTES));
}

export function sealSecret(plaintext: Buffer, masterKey: Buffer, aad: string): string {
  checkMasterKey(masterKey);
  const salt = randomBytes(SALT_BYTES);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', secretKey(masterKey, salt), iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return [VERSION, masterKeyId(masterKey), b64(salt), b64(iv), b64(cipher.getAuthTag()), b64(ciphertext)].join('.');
}

export function openSecret(sealed: string, masterKey: Buffer, aad: string): Buffer {
  checkMasterKey(masterKey);
  const parts = typeof sealed === 'string' ? sealed.split('.') : [];
  if (parts[0] !== VERSION) {
    throw parts.length === 6
      ? new SecretOpenError('unsupported_version', `sealed secret has version ${parts[0]}; this node reads ${VERSION}`)
      : new SecretOpenError('malformed', 'sealed secret is not in the v1.<kid>.<salt>.<iv>.<tag>.<ciphertext> form');
  }
  const [, kid, saltText, ivText, tagText, ctText] = parts;
  const decoded = [saltText, ivText, tagText, ctText].map((p) =>
    p !== undefined && /^[A-Za-z0-9_-]*$/.test(p) ? Buffer.from(p, 'base64url') : undefined,
  );
  const [salt, iv, tag, ciphertext] = decoded;
  if (
    parts.length !== 6 ||
    !salt ||
    !iv ||
    !tag ||
    !ciphertext ||
    salt.length !== SALT_BYTES ||
    iv.length !== IV_BYTES ||
    tag.length !== TAG_BYTES
  ) {
    throw new SecretOpenError('malformed', 'sealed secret is not in the v1.<kid>.<salt>.<iv>.<tag>.<ciphertext> form');
  }
  const current = masterKeyId(masterKey);
  if (kid !== current) {
    throw new SecretOpenError(
      'wrong_master_key',
      `sealed secret was sealed under master key ${kid}, but this node's master key is ${current}`,
    );
  }
  const decipher = createDecipheriv('aes-256-gcm', secretKey(masterKey, salt), iv, { authTagLength: TAG_BYTES });
  decipher.setAAD(Buffer.from(aad, 'utf8'));
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  } catch {
    // GCM cannot say which: the bytes were altered, or the secret belongs to another row (aad).
    throw new SecretOpenError(
      'authentication_failed',
      `sealed secret failed authentication for ${aad}: it was altered or belongs to another record`,
    );
  }
}
