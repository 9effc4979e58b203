import { type FieldError, type Stream, streams } from '../core/index.js';

/**
 * A tenant's TLS policy for outbound mail: one level for all its mail, optionally another per stream
 * (`marketing` may stay opportunistic while `transactional` must be `verified`). A stream listed here
 * replaces the default for that stream; a stream not listed uses the default. Delivery then applies
 * the stricter of this level and the destination's MTA-STS/DANE (transport-policy `decideTls`).
 *  - `opportunistic`: STARTTLS when offered, any certificate, plaintext otherwise (RFC 7435).
 *  - `required`: TLS 1.2 or later, any certificate; never in clear.
 *  - `verified`: TLS 1.2 or later with a certificate valid for the MX host name (PKIX), or DANE.
 */
export const tlsPolicyLevels = ['opportunistic', 'required', 'verified'] as const;
export type TlsPolicyLevel = (typeof tlsPolicyLevels)[number];

export interface TenantTlsPolicyDoc {
  default: TlsPolicyLevel;
  streams: Partial<Record<Stream, TlsPolicyLevel>>;
}

export const DEFAULT_TLS_POLICY: TenantTlsPolicyDoc = { default: 'opportunistic', streams: {} };

const isLevel = (v: unknown): v is TlsPolicyLevel => typeof v === 'string' && (tlsPolicyLevels as readonly string[]).includes(v);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Checks a policy document as sent to the API or CLI; every problem with its JSON path. */
export function parseTlsPolicyDoc(body: unknown): { ok: true; doc: TenantTlsPolicyDoc } | { ok: false; errors: FieldError[] } {
  const errors: FieldError[] = [];
  const levels = tlsPolicyLevels.join(', ');
  if (!isObject(body)) return { ok: false, errors: [{ path: '', message: 'must be an object { default, streams }' }] };
  for (const k of Object.keys(body))
    if (k !== 'default' && k !== 'streams') errors.push({ path: `/${k}`, message: 'is not a known field' });
  const dflt = body.default ?? 'opportunistic';
  if (!isLevel(dflt)) errors.push({ path: '/default', message: `must be one of ${levels}` });
  const out: TenantTlsPolicyDoc['streams'] = {};
  if (body.streams !== undefined) {
    if (!isObject(body.streams)) errors.push({ path: '/streams', message: 'must be an object of stream → policy' });
    else {
      for (const [stream, level] of Object.entries(body.streams)) {
        if (!(streams as readonly string[]).includes(stream)) {
          errors.push({ path: `/streams/${stream}`, message: `is not a stream; use ${streams.join(', ')}` });
        } else if (!isLevel(level)) {
          errors.push({ path: `/streams/${stream}`, message: `must be one of ${levels}` });
        } else out[stream as Stream] = level;
      }
    }
  }
  if (errors.length) return { ok: false, errors };
  return { ok: true, doc: { default: dflt as TlsPolicyLevel, streams: out } };
}

/** The level that applies to one stream of the tenant. */
export function tlsPolicyFor(doc: TenantTlsPolicyDoc, stream: string): TlsPolicyLevel {
  return doc.streams[stream as Stream] ?? doc.default;
}

/** Reads the stored JSON; a damaged document falls back to the strictest level, never to less. */
export function readStoredTlsPolicy(json: string | null | undefined): TenantTlsPolicyDoc {
  if (!json) return DEFAULT_TLS_POLICY;
  try {
    const parsed = parseTlsPolicyDoc(JSON.parse(json));
    if (parsed.ok) return parsed.doc;
  } catch {
    // fall through
  }
  return { default: 'verified', streams: {} };
}
