import { WebhookVerificationError } from './errors.js';
import type { PostwardenEvent } from './events.js';

/**
 * Verifies a webhook delivery per the Standard Webhooks specification
 * (https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md):
 *
 * - `webhook-id`: the message id (Postwarden uses the event id, stable across retries and replays;
 *   a batch id when the endpoint's batch_size is above 1 and the body is an array of events);
 * - `webhook-timestamp`: integer seconds since the epoch; refused outside ±tolerance (5 min), which
 *   bounds how long a captured delivery can be replayed by someone else;
 * - `webhook-signature`: space-separated `v1,<base64 HMAC-SHA256>` entries over
 *   `${id}.${timestamp}.${body}` with the secret's bytes (`whsec_<base64>`). Several entries appear
 *   while a secret is rotated; one matching entry is enough. Other versions are skipped.
 *
 * The receiver passes the raw body exactly as received (re-serialised JSON does not verify) and one
 * or several secrets (old and new during a rotation). Signatures are compared in constant time.
 * Web Crypto (global in Node 20, Deno, Bun, workers) computes the HMAC, so the SDK needs no
 * dependency.
 */
export type WebhookHeaders = Headers | Record<string, string | string[] | undefined>;

export interface VerifyWebhookOptions {
  /** Seconds a timestamp may differ from now (default 300). */
  toleranceSeconds?: number;
  /** Milliseconds since the epoch; injected by tests. */
  now?: () => number;
}

const encoder = new TextEncoder();

/**
 * Returns the parsed JSON body when one signature matches one secret and the timestamp is fresh;
 * throws WebhookVerificationError (with a `reason`) otherwise, or TypeError when no usable secret
 * was given (a configuration mistake, not a bad delivery).
 */
export async function verifyWebhook<T = PostwardenEvent>(
  body: string | Uint8Array,
  headers: WebhookHeaders,
  secrets: string | readonly string[],
  options: VerifyWebhookOptions = {},
): Promise<T> {
  const keys = await Promise.all((typeof secrets === 'string' ? [secrets] : secrets).map(importSecret));
  if (!keys.length) throw new TypeError('verifyWebhook needs at least one secret (whsec_…)');
  const id = header(headers, 'webhook-id');
  const timestamp = header(headers, 'webhook-timestamp');
  const signature = header(headers, 'webhook-signature');

  if (!/^\d{1,15}$/.test(timestamp)) throw new WebhookVerificationError('invalid_timestamp', 'webhook-timestamp is not integer seconds');
  const now = Math.floor((options.now ?? Date.now)() / 1000);
  const tolerance = options.toleranceSeconds ?? 300;
  const at = Number(timestamp);
  if (at < now - tolerance) throw new WebhookVerificationError('timestamp_too_old', `webhook-timestamp is more than ${tolerance} s old`);
  if (at > now + tolerance)
    throw new WebhookVerificationError('timestamp_too_new', `webhook-timestamp is more than ${tolerance} s in the future`);

  const bytes = typeof body === 'string' ? encoder.encode(body) : body;
  const signed = concat(encoder.encode(`${id}.${timestamp}.`), bytes);
  const offered = signature
    .split(' ')
    .map((s) => s.split(','))
    .filter((parts): parts is [string, string] => parts.length === 2 && parts[0] === 'v1')
    .map(([, b64]) => decodeBase64(b64))
    .filter((sig) => sig !== undefined);
  let matched = false;
  for (const key of keys) {
    const expected = new Uint8Array(await globalThis.crypto.subtle.sign('HMAC', key, signed));
    // Every pair is compared, match or not, so the time taken does not say which one matched.
    for (const sig of offered) matched = constantTimeEqual(expected, sig) || matched;
  }
  if (!matched) throw new WebhookVerificationError('invalid_signature', 'no webhook-signature matches a secret');

  try {
    return JSON.parse(typeof body === 'string' ? body : new TextDecoder('utf-8', { fatal: true }).decode(body)) as T;
  } catch {
    throw new WebhookVerificationError('invalid_payload', 'the body is signed but is not JSON');
  }
}

function header(headers: WebhookHeaders, name: string): string {
  let v: string | string[] | null | undefined;
  if (typeof (headers as Headers).get === 'function') v = (headers as Headers).get(name);
  else {
    const h = headers as Record<string, string | string[] | undefined>;
    v = h[name] ?? Object.entries(h).find(([k]) => k.toLowerCase() === name)?.[1];
  }
  if (Array.isArray(v)) v = v.join(' ');
  if (!v) throw new WebhookVerificationError('missing_header', `the ${name} header is missing`);
  return v;
}

async function importSecret(secret: string) {
  const raw = decodeBase64(secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret);
  if (!raw?.length) throw new TypeError('a webhook secret must be whsec_ followed by base64');
  return globalThis.crypto.subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
}

function decodeBase64(s: string) {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4 !== 0) return undefined;
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function concat(a: Uint8Array, b: Uint8Array) {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}
