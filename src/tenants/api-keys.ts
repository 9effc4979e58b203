import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { parseGrants } from '../access/index.js';

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

/**
 * A key's grants: the legacy scopes (aliases for permission sets, src/access/permissions.ts) and
 * permission names, in any mix.
 */
export function parseScopes(input: string | readonly string[]): { ok: true; scopes: string[] } | { ok: false; bad: string[] } {
  const parsed = parseGrants(input, { aliases: true });
  return parsed.ok ? { ok: true, scopes: parsed.grants } : parsed;
}
