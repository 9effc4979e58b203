import argon2 from 'argon2';

/**
 * Passwords are hashed with Argon2id (RFC 9106) at OWASP's minimum for it: 19 MiB, 2 passes, one lane.
 * That costs a few tens of milliseconds per login on one core, enough to make an offline guess
 * expensive without letting a burst of logins starve the sender (the throttle caps the burst).
 * The PHC string carries its parameters, so raising them later still verifies old hashes.
 */
const OPTIONS = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

/** The hash of a password nobody has, with the same parameters: what an unknown email is checked against. */
const DECOY_HASH = '$argon2id$v=19$m=19456,p=1,t=2$0ofSMFeumySgMYbcBst83Q$Bs0Fj5VAuW9kgeIs4YfK7xYHcVmjAlhO/0w5r5Ic+no';

export const MIN_PASSWORD_LENGTH = 12;
export const MAX_PASSWORD_LENGTH = 1024;

export function hashPassword(password: string): Promise<string> {
  return argon2.hash(password, OPTIONS);
}

/**
 * True when `password` matches `hash`. With no hash (unknown email, SSO-only user) it still spends one
 * Argon2 verification on a fixed hash, so the answer time does not tell which emails exist.
 */
export async function verifyPassword(hash: string | null, password: string): Promise<boolean> {
  try {
    if (!hash) {
      await argon2.verify(DECOY_HASH, password);
      return false;
    }
    return await argon2.verify(hash, password);
  } catch {
    return false;
  }
}
