import { createHmac, randomBytes } from 'node:crypto';

/**
 * Standard Webhooks signing (https://www.standardwebhooks.com, "Signature scheme"):
 *
 *     webhook-id:        the event id (a batch: the batch id); receivers deduplicate by it
 *     webhook-timestamp: seconds since the epoch, when this attempt was signed
 *     webhook-signature: "v1,<base64 HMAC-SHA256(key, `${id}.${timestamp}.${body}`)>", space-separated
 *                        when several secrets sign (the grace period after a rotation)
 *
 * A secret is `whsec_` + base64 of random bytes; the HMAC key is those bytes (the spec: "the
 * base64-decoded part after the prefix"), which is what the `standardwebhooks` package verifies with.
 */
export const SECRET_PREFIX = 'whsec_';
const SECRET_BYTES = 32;

export function generateSecret(): string {
  return SECRET_PREFIX + randomBytes(SECRET_BYTES).toString('base64');
}

export function secretKey(secret: string): Buffer {
  return Buffer.from(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret, 'base64');
}

export function sign(key: Buffer, id: string, timestampSeconds: number, body: string): string {
  return `v1,${createHmac('sha256', key).update(`${id}.${timestampSeconds}.${body}`).digest('base64')}`;
}

/** The three headers of one signed POST; `keys` newest first. */
export function signatureHeaders(keys: readonly Buffer[], id: string, timestampSeconds: number, body: string): Record<string, string> {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestampSeconds),
    'webhook-signature': keys.map((k) => sign(k, id, timestampSeconds, body)).join(' '),
  };
}
