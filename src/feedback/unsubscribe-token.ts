import { createHmac, timingSafeEqual } from 'node:crypto';
import { type Stream, streams } from '../core/index.js';

/**
 * The token in a one-click unsubscribe URL (RFC 8058). It carries everything the endpoint needs,
 * so no lookup state is kept per message and nothing in it can be changed:
 *
 *     u1.<payload, base64url>.<mac, base64url>
 *
 * payload = tenant id, message id, recipient address, From domain, stream (LF-separated; none of
 * them can hold a LF). mac = HMAC-SHA256 over "postwarden-unsubscribe-v1" and the payload, first
 * 128 bits, with a key derived from the node master key (so every node of a cluster checks the
 * same tokens; RFC 8058 §3.1 asks for a "hard-to-forge component"). Checking tries every key given
 * in constant time, so a key can be rotated like the VERP key.
 */
export interface UnsubscribeClaims {
  tenantId: string;
  messageId: string;
  address: string;
  domain: string;
  stream: Stream;
}

export type UnsubscribeDecoded = { ok: true; claims: UnsubscribeClaims } | { ok: false; reason: 'malformed' | 'bad_mac' };

const VERSION = 'u1';
const CONTEXT = 'postwarden-unsubscribe-v1';
const MAC_BYTES = 16;

export function deriveUnsubscribeKey(masterKey: Uint8Array): Buffer {
  return createHmac('sha256', masterKey).update('postwarden-unsubscribe-key-v1').digest();
}

const macOf = (key: Uint8Array, payload: Buffer) =>
  createHmac('sha256', key).update(`${CONTEXT}\n`).update(payload).digest().subarray(0, MAC_BYTES);

export function encodeUnsubscribeToken(c: UnsubscribeClaims, key: Uint8Array): string {
  const fields = [c.tenantId, c.messageId, c.address, c.domain, c.stream];
  if (fields.some((f) => /[\r\n]/.test(f))) throw new TypeError('unsubscribe token fields cannot hold line breaks');
  const payload = Buffer.from(fields.join('\n'), 'utf8');
  return `${VERSION}.${payload.toString('base64url')}.${macOf(key, payload).toString('base64url')}`;
}

export function decodeUnsubscribeToken(token: string, keys: Uint8Array | readonly Uint8Array[]): UnsubscribeDecoded {
  const list = Array.isArray(keys) ? (keys as readonly Uint8Array[]) : [keys as Uint8Array];
  const parts = token.split('.');
  if (parts.length !== 3 || parts[0] !== VERSION || !/^[A-Za-z0-9_-]+$/.test(parts[1]!) || !/^[A-Za-z0-9_-]+$/.test(parts[2]!)) {
    return { ok: false, reason: 'malformed' };
  }
  const payload = Buffer.from(parts[1]!, 'base64url');
  const given = Buffer.from(parts[2]!, 'base64url');
  if (given.length !== MAC_BYTES) return { ok: false, reason: 'malformed' };
  let match = false;
  for (const key of list) match = timingSafeEqual(macOf(key, payload), given) || match;
  if (!match) return { ok: false, reason: 'bad_mac' };
  const fields = payload.toString('utf8').split('\n');
  const [tenantId, messageId, address, domain, stream] = fields;
  if (fields.length !== 5 || !tenantId || !messageId || !address || !domain || !(streams as readonly string[]).includes(stream ?? '')) {
    return { ok: false, reason: 'malformed' };
  }
  return { ok: true, claims: { tenantId, messageId, address, domain, stream: stream as Stream } };
}
