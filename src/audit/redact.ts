/**
 * Settings go into the audit log as before/after; secrets never do. Callers pass what is safe to
 * keep (a key's id, hint and scopes, never its secret); this is the net under them: any member whose
 * name says it holds a secret is replaced by "[redacted]", however deep, so a caller that hands over
 * a whole row by mistake still leaks nothing (a webhook's sealed secret, a DKIM private key).
 */
export const REDACTED = '[redacted]';

const SECRET_NAME = /secret|password|passphrase|private|token|credential|sealed|key_material|keyMaterial|^pem$|signature/i;

export function redactSecrets(value: unknown, depth = 0): unknown {
  if (depth > 20) return REDACTED;
  if (Array.isArray(value)) return value.map((v) => redactSecrets(v, depth + 1));
  if (value instanceof Date) return value.toISOString();
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (v === undefined) continue;
      out[k] = SECRET_NAME.test(k) && v !== null ? REDACTED : redactSecrets(v, depth + 1);
    }
    return out;
  }
  if (typeof value === 'bigint') return value.toString();
  return value;
}
