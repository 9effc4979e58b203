import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * API keys are random secrets shown once; only their SHA-256 is stored. A fast hash is right here
 * (unlike passwords): the secret has 192 bits of entropy, so there is nothing to brute-force, and
 * every request and SMTP AUTH verifies one.
 */
export const scopes = ['send', 'read', 'admin'] as const;
export type Scope = (typeof scopes)[number];

export const SECRET_PREFIX = 'pw_';

export function generateSecret(): string {
  return SECRET_PREFIX + randomBytes(24).toString('base64url');
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && timingSafeEqual(x, y);
}

/** `admin` implies every scope; `read` is implied by `send` only for the sender's own messages. */
export function hasScope(granted: readonly string[], needed: Scope): boolean {
  return granted.includes('admin') || granted.includes(needed);
}

export function parseScopes(input: string | readonly string[]): { ok: true; scopes: Scope[] } | { ok: false; bad: string[] } {
  const list = (typeof input === 'string' ? input.split(',') : [...input]).map((s) => s.trim()).filter(Boolean);
  const bad = list.filter((s) => !(scopes as readonly string[]).includes(s));
  if (bad.length || !list.length) return { ok: false, bad: bad.length ? bad : ['(none given)'] };
  return { ok: true, scopes: [...new Set(list)] as Scope[] };
}
