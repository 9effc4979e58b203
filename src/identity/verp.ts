import { createHmac, timingSafeEqual } from 'node:crypto';
import { hasPrefix, normaliseDomain, PostwardenError } from '../core/index.js';

/**
 * VERP return paths (the envelope sender) that map an asynchronous bounce or complaint back to its
 * message and recipient without any lookup state, and that cannot be forged.
 *
 * Layout of the local part, 64 octets (RFC 5321 §4.5.3.1.1 allows up to 64):
 *
 *   b-<message id body, 26><recipient id body, 26><mac, 10>@<bounce domain>
 *
 * Ids are `msg_`/`rcp_` plus 26 Crockford base32 characters (core/ids.ts), so their bodies are
 * carried as they are, lower-cased: Crockford base32 is case-insensitive and providers may fold
 * the local part's case. The MAC is HMAC-SHA256 over both ids and the bounce domain, truncated to
 * 50 bits (10 base32 characters); a forger must guess it online, one bounce per guess. Decoding
 * tries every key given, so keys rotate by putting the new one first and keeping the old one until
 * mail sent with it can no longer bounce.
 */
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';
const BODY = 26;
const MAC_CHARS = 10;
const PREFIX = 'b-';
const LOCAL = new RegExp(`^${PREFIX}[0-9a-hjkmnp-tv-z]{${BODY * 2 + MAC_CHARS}}$`);
const CONTEXT = 'postwarden-verp-v1';

export type VerpKey = string | Uint8Array;

export interface VerpInput {
  messageId: string;
  recipientId: string;
  bounceDomain: string;
}

export type VerpDecoded =
  | { ok: true; messageId: string; recipientId: string; bounceDomain: string; keyIndex: number }
  | { ok: false; reason: 'not_verp' | 'bad_mac' | 'malformed' };

function keyBytes(key: VerpKey): Buffer {
  const bytes = typeof key === 'string' ? Buffer.from(key, 'utf8') : Buffer.from(key);
  // A short key makes the MAC guessable offline from one observed address.
  if (bytes.length < 16) throw new PostwardenError('CONFIG_INVALID', 'A VERP key must be at least 16 bytes.', { minBytes: 16 });
  return bytes;
}

function mac(key: Buffer, messageBody: string, recipientBody: string, domain: string): string {
  const digest = createHmac('sha256', key).update(`${CONTEXT}\n${messageBody}\n${recipientBody}\n${domain}`).digest();
  // The first 50 bits of the digest as 10 base32 characters.
  let v = digest.readBigUInt64BE(0) >> 14n;
  let out = '';
  for (let i = 0; i < MAC_CHARS; i++) {
    out = ALPHABET[Number(v & 31n)] + out;
    v >>= 5n;
  }
  return out;
}

export function encodeVerp(input: VerpInput, key: VerpKey): string {
  if (!hasPrefix(input.messageId, 'msg')) {
    throw new PostwardenError('VALIDATION_FAILED', 'messageId is not a msg_ id.', {
      errors: [{ path: '/messageId', message: 'must be a msg_ id' }],
    });
  }
  if (!hasPrefix(input.recipientId, 'rcp')) {
    throw new PostwardenError('VALIDATION_FAILED', 'recipientId is not a rcp_ id.', {
      errors: [{ path: '/recipientId', message: 'must be a rcp_ id' }],
    });
  }
  const domain = normaliseDomain(input.bounceDomain);
  if (!domain) {
    throw new PostwardenError('VALIDATION_FAILED', 'bounceDomain is not a domain.', {
      errors: [{ path: '/bounceDomain', message: 'must be a domain name' }],
    });
  }
  const m = input.messageId.slice(4).toLowerCase();
  const r = input.recipientId.slice(4).toLowerCase();
  return `${PREFIX}${m}${r}${mac(keyBytes(key), m, r, domain)}@${domain}`;
}

/**
 * Decode a return path. Comparison is constant-time and runs against every key, so timing tells
 * neither how many characters matched nor which key did.
 */
export function decodeVerp(address: string, keys: VerpKey | readonly VerpKey[]): VerpDecoded {
  const list = (Array.isArray(keys) ? keys : [keys]) as VerpKey[];
  const raw = address.trim().replace(/^<(.*)>$/, '$1');
  const at = raw.lastIndexOf('@');
  if (at <= 0) return { ok: false, reason: 'not_verp' };
  const local = raw.slice(0, at).toLowerCase();
  if (!local.startsWith(PREFIX)) return { ok: false, reason: 'not_verp' };
  const domain = normaliseDomain(raw.slice(at + 1));
  if (!domain || !LOCAL.test(local)) return { ok: false, reason: 'malformed' };
  const body = local.slice(PREFIX.length);
  const m = body.slice(0, BODY);
  const r = body.slice(BODY, BODY * 2);
  const given = Buffer.from(body.slice(BODY * 2), 'ascii');
  let keyIndex = -1;
  list.forEach((key, i) => {
    const expected = Buffer.from(mac(keyBytes(key), m, r, domain), 'ascii');
    if (timingSafeEqual(expected, given) && keyIndex < 0) keyIndex = i;
  });
  if (keyIndex < 0) return { ok: false, reason: 'bad_mac' };
  const messageId = `msg_${m.toUpperCase()}`;
  const recipientId = `rcp_${r.toUpperCase()}`;
  return { ok: true, messageId, recipientId, bounceDomain: domain, keyIndex };
}

/**
 * The node's VERP key, derived from the master key so every node of a cluster (sharing the master
 * key) signs and checks the same return paths without another secret to distribute.
 */
export function deriveVerpKey(masterKey: Uint8Array): Buffer {
  return createHmac('sha256', masterKey).update('postwarden-verp-key-v1').digest();
}

/** The return-path (bounce) domain of a sending domain: `<label>.<domain>`, e.g. bounces.example.com. */
export function bounceDomainFor(sendingDomain: string, label: string): string {
  return `${label}.${normaliseDomain(sendingDomain) ?? sendingDomain.toLowerCase()}`;
}
