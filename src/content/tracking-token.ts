import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The token in an open-pixel or click URL. It carries what the redirector needs, so nothing is
 * stored per link and nothing in it can be changed:
 *
 *     t1.<payload, base64url>.<mac, base64url>
 *
 * payload = kind (`o` open, `c` click), tenant id, message id, target URL ('' for opens), LF-separated
 * (a URL with a raw line break is never tracked). mac = HMAC-SHA256 over "postwarden-tracking-v1" LF
 * payload, first 128 bits, keyed per tenant: HMAC(tracking key, tenant id), where the tracking key is
 * derived from the node master key. So every node of a cluster checks the same tokens, a tenant's
 * links cannot be minted with another tenant's key, and the redirector answers only URLs this
 * platform signed: it is never an open redirect. Checking tries every key given, in constant time,
 * so the tracking key can be rotated like the unsubscribe key.
 */
export type TrackingKind = 'open' | 'click';

export interface TrackingClaims {
  kind: TrackingKind;
  tenantId: string;
  messageId: string;
  /** The click's target; '' for an open. */
  url: string;
}

export type TrackingDecoded = { ok: true; claims: TrackingClaims } | { ok: false; reason: 'malformed' | 'bad_mac' };

const VERSION = 't1';
const CONTEXT = 'postwarden-tracking-v1';
const MAC_BYTES = 16;

export function deriveTrackingKey(masterKey: Uint8Array): Buffer {
  return createHmac('sha256', masterKey).update('postwarden-tracking-key-v1').digest();
}

const tenantKey = (key: Uint8Array, tenantId: string) => createHmac('sha256', key).update(`tenant\n${tenantId}`).digest();
const macOf = (key: Uint8Array, tenantId: string, payload: Buffer) =>
  createHmac('sha256', tenantKey(key, tenantId)).update(`${CONTEXT}\n`).update(payload).digest().subarray(0, MAC_BYTES);

export function encodeTrackingToken(c: TrackingClaims, key: Uint8Array): string {
  const fields = [c.kind === 'open' ? 'o' : 'c', c.tenantId, c.messageId, c.url];
  if (fields.some((f) => /[\r\n]/.test(f))) throw new TypeError('tracking token fields cannot hold line breaks');
  const payload = Buffer.from(fields.join('\n'), 'utf8');
  return `${VERSION}.${payload.toString('base64url')}.${macOf(key, c.tenantId, payload).toString('base64url')}`;
}

export function decodeTrackingToken(token: string, keys: readonly Uint8Array[]): TrackingDecoded {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[0] !== VERSION || !/^[A-Za-z0-9_-]+$/.test(parts[1]!) || !/^[A-Za-z0-9_-]+$/.test(parts[2]!)) {
    return { ok: false, reason: 'malformed' };
  }
  const payload = Buffer.from(parts[1]!, 'base64url');
  const given = Buffer.from(parts[2]!, 'base64url');
  const fields = payload.toString('utf8').split('\n');
  const [kind, tenantId, messageId, url] = fields;
  if (given.length !== MAC_BYTES || fields.length !== 4 || (kind !== 'o' && kind !== 'c') || !tenantId || !messageId) {
    return { ok: false, reason: 'malformed' };
  }
  let match = false;
  for (const key of keys) match = timingSafeEqual(macOf(key, tenantId, payload), given) || match;
  if (!match) return { ok: false, reason: 'bad_mac' };
  if (kind === 'c' && !/^https?:\/\//i.test(url ?? '')) return { ok: false, reason: 'malformed' };
  return { ok: true, claims: { kind: kind === 'o' ? 'open' : 'click', tenantId, messageId, url: url ?? '' } };
}
