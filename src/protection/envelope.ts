import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * Content sealed with a tenant's data key (envelope encryption: the data key itself is stored only
 * wrapped by a key-encryption key, see kms.ts). AES-256-GCM with a fresh random 96-bit nonce per
 * value (NIST SP 800-38D §5.2.1.1, §8.2.2), and as associated data the key id and the place the value
 * lives (`table.column:recordId`), so a sealed value copied into another row or column does not open.
 *
 * Two compact, versioned forms carry the key id, so a reader finds the key without a lookup table and
 * old values keep opening after a rotation:
 *
 *     text:   pwe1:<keyId>:<base64url(nonce ‖ ciphertext ‖ tag)>
 *     bytes:  00 'P' 'W' 'E' '1' <keyId length: 1 byte> <keyId> <nonce> <ciphertext> <tag>
 *
 * Anything else is a value written before encryption existed and is read as plaintext. A message
 * never starts with a NUL byte (RFC 5322 §2.1 header fields start with printable ASCII), and a stored
 * subject or JSON document starting with `pwe1:` followed by a valid key id and an authentic tag is
 * not something plaintext produces.
 */

const TEXT_PREFIX = 'pwe1:';
const BYTES_MAGIC = Buffer.from([0x00, 0x50, 0x57, 0x45, 0x31]);
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
const KEY_ID = /^[A-Za-z0-9_-]{1,64}$/;

export const ENVELOPE_TEXT_PREFIX = TEXT_PREFIX;
/** Hex of the first bytes of a sealed binary value, for SQL that counts coverage. */
export const ENVELOPE_BYTES_MAGIC_HEX = BYTES_MAGIC.toString('hex');

export class EnvelopeError extends Error {
  constructor(
    readonly reason: 'malformed' | 'authentication_failed',
    message: string,
  ) {
    super(message);
    this.name = 'EnvelopeError';
  }
}

const aadOf = (keyId: string, where: string) => Buffer.from(`pwe1|${keyId}|${where}`, 'utf8');

function checkKey(key: Buffer, keyId: string): void {
  if (key.length !== KEY_BYTES) throw new TypeError(`a data key must be ${KEY_BYTES} bytes`);
  if (!KEY_ID.test(keyId)) throw new TypeError(`data key id ${JSON.stringify(keyId)} is not [A-Za-z0-9_-]{1,64}`);
}

// One CSPRNG call per sealed value was ~2 % of the delivery thread (several values per message), so
// nonces come from a pool drawn 4 KiB at a time: the same generator, each position used once.
const NONCE_POOL_BYTES = NONCE_BYTES * 341;
let noncePool = Buffer.alloc(0);
let nonceAt = 0;
function freshNonce(): Buffer {
  if (nonceAt + NONCE_BYTES > noncePool.length) {
    noncePool = randomBytes(NONCE_POOL_BYTES);
    nonceAt = 0;
  }
  nonceAt += NONCE_BYTES;
  return noncePool.subarray(nonceAt - NONCE_BYTES, nonceAt);
}

/**
 * `head` is written before the nonce in the one buffer returned (the binary form's magic and key id),
 * so a message body is copied once on its way in, and the plaintext of a text is never a Buffer.
 */
function encrypt(key: Buffer, keyId: string, where: string, plain: Buffer | string, head?: Buffer): Buffer {
  const nonce = freshNonce();
  const c = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
  c.setAAD(aadOf(keyId, where));
  const body = typeof plain === 'string' ? c.update(plain, 'utf8') : c.update(plain);
  const parts = [nonce, body, c.final(), c.getAuthTag()];
  return Buffer.concat(head ? [head, ...parts] : parts);
}

function decrypt(key: Buffer, keyId: string, where: string, box: Buffer): Buffer {
  if (box.length < NONCE_BYTES + TAG_BYTES) throw new EnvelopeError('malformed', `sealed value at ${where} is truncated`);
  const d = createDecipheriv('aes-256-gcm', key, box.subarray(0, NONCE_BYTES), { authTagLength: TAG_BYTES });
  d.setAAD(aadOf(keyId, where));
  d.setAuthTag(box.subarray(box.length - TAG_BYTES));
  try {
    const plain = d.update(box.subarray(NONCE_BYTES, box.length - TAG_BYTES));
    // final() checks the tag (nothing is returned before it passes); GCM leaves no bytes for it.
    const rest = d.final();
    return rest.length ? Buffer.concat([plain, rest]) : plain;
  } catch {
    throw new EnvelopeError('authentication_failed', `sealed value at ${where} failed authentication: altered, or it belongs elsewhere`);
  }
}

export function sealText(key: Buffer, keyId: string, where: string, plain: string): string {
  checkKey(key, keyId);
  return `${TEXT_PREFIX}${keyId}:${encrypt(key, keyId, where, plain).toString('base64url')}`;
}

export function sealBytes(key: Buffer, keyId: string, where: string, plain: Buffer): Buffer {
  checkKey(key, keyId);
  return encrypt(key, keyId, where, plain, Buffer.concat([BYTES_MAGIC, Buffer.from([keyId.length]), Buffer.from(keyId, 'ascii')]));
}

/** The key id of a sealed text value; undefined for plaintext (written before encryption). */
export function textKeyId(stored: string): string | undefined {
  if (!stored.startsWith(TEXT_PREFIX)) return undefined;
  const end = stored.indexOf(':', TEXT_PREFIX.length);
  const id = end > 0 ? stored.slice(TEXT_PREFIX.length, end) : '';
  return KEY_ID.test(id) ? id : undefined;
}

/** The key id of a sealed binary value; undefined for plaintext. */
export function bytesKeyId(stored: Uint8Array): string | undefined {
  const b = Buffer.from(stored.buffer, stored.byteOffset, stored.byteLength);
  if (b.length < BYTES_MAGIC.length + 2 || !b.subarray(0, BYTES_MAGIC.length).equals(BYTES_MAGIC)) return undefined;
  const n = b[BYTES_MAGIC.length] ?? 0;
  const id = b.subarray(BYTES_MAGIC.length + 1, BYTES_MAGIC.length + 1 + n).toString('ascii');
  return KEY_ID.test(id) && id.length === n ? id : undefined;
}

export function openText(key: Buffer, stored: string, where: string): string {
  const keyId = textKeyId(stored);
  if (!keyId) throw new EnvelopeError('malformed', `value at ${where} is not sealed`);
  const box = Buffer.from(stored.slice(TEXT_PREFIX.length + keyId.length + 1), 'base64url');
  return decrypt(key, keyId, where, box).toString('utf8');
}

export function openBytes(key: Buffer, stored: Uint8Array, where: string): Buffer {
  const keyId = bytesKeyId(stored);
  if (!keyId) throw new EnvelopeError('malformed', `value at ${where} is not sealed`);
  const b = Buffer.from(stored.buffer, stored.byteOffset, stored.byteLength);
  return decrypt(key, keyId, where, b.subarray(BYTES_MAGIC.length + 1 + keyId.length));
}
