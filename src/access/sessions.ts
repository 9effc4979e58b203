import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { type Clock, PostwardenError } from '../core/index.js';
import type { SessionRow, Store, Tenant, UserRow } from '../store/index.js';
import { verifyPassword } from './passwords.js';
import type { Permission } from './permissions.js';
import type { Throttle } from './throttle.js';
import { normaliseEmail, type Users } from './users.js';

/**
 * Sign-in and sessions for people (the dashboard). A session is a random 256-bit token in a signed,
 * HTTP-only, SameSite=Strict cookie (the HTTP edge sets it); the store keeps only its SHA-256, so a
 * leaked database opens no session, and a row per session is what lets logout and disabling a user
 * end it at once on every node. Each session has a CSRF token, returned once at login and required in
 * `X-CSRF-Token` on every unsafe request made with the cookie (API keys need none: a browser never
 * sends a Bearer header by itself).
 *
 * `login` is the password path; `startSession` is the one function that makes a session, which SSO
 * will call after its own checks. Failed logins count per address and per account (throttle.ts).
 */
export interface SessionsDeps {
  store: Pick<Store, 'users' | 'sessions' | 'tenants'>;
  users: Users;
  clock: Clock;
  sessionHours: number;
  throttles: { address: Throttle; account: Throttle };
}

export interface RequestMeta {
  ip: string;
  userAgent?: string;
}

export interface StartedSession {
  token: string;
  csrfToken: string;
  user: UserRow;
  tenant: Tenant;
  expiresAt: number;
}

export interface ActiveSession {
  session: SessionRow;
  user: UserRow;
  tenant: Tenant;
  permissions: ReadonlySet<Permission>;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest();
const hex = (s: string) => sha256(s).toString('hex');

/** Constant-time equality of two secrets, whatever their lengths (hashing first evens them out). */
export function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(sha256(a), sha256(b));
}

const BAD_LOGIN = 'The email or password is wrong.';

export function createSessions({ store, users, clock, sessionHours, throttles }: SessionsDeps) {
  const denied = () => new PostwardenError('UNAUTHENTICATED', BAD_LOGIN);

  async function failed(ip: string, email: string): Promise<never> {
    await Promise.all([throttles.address.fail(`login-ip:${ip}`), throttles.account.fail(`login-account:${email}`)]);
    throw denied();
  }

  async function startSession(user: UserRow, tenantId: string, meta: RequestMeta): Promise<StartedSession> {
    const tenant = await store.tenants.get(tenantId);
    if (!tenant)
      throw new PostwardenError('NOT_FOUND', `tenant ${tenantId} does not exist`, {
        errors: [{ path: '/tenant', message: 'does not exist' }],
      });
    if (user.disabledAt !== null) throw denied();
    if (user.tenantId !== null && user.tenantId !== tenantId) throw denied();
    const token = randomBytes(32).toString('base64url');
    const csrfToken = randomBytes(32).toString('base64url');
    const now = clock.now();
    const expiresAt = now + sessionHours * 3_600_000;
    await store.sessions.insert({
      tokenHash: hex(token),
      userId: user.id,
      tenantId,
      csrfHash: hex(csrfToken),
      createdAt: now,
      expiresAt,
      revokedAt: null,
      ip: meta.ip,
      userAgent: meta.userAgent?.slice(0, 500) ?? null,
    });
    await store.users.update(user.id, { lastLoginAt: now });
    return { token, csrfToken, user, tenant, expiresAt };
  }

  return {
    startSession,

    /**
     * Email + password (+ TOTP code when the account has it). An operator (no tenant of their own)
     * names the tenant to act on. Throws TOO_MANY_ATTEMPTS while the address or account is refused,
     * UNAUTHENTICATED with one message for every wrong credential, TOTP_REQUIRED when the code is
     * missing after a right password.
     */
    async login(input: { email: string; password: string; totp?: string; tenant?: string }, meta: RequestMeta): Promise<StartedSession> {
      const email = normaliseEmail(input.email);
      await throttles.address.check(`login-ip:${meta.ip}`);
      await throttles.account.check(`login-account:${email}`);
      const user = await store.users.findByEmail(email);
      const passwordOk = await verifyPassword(user?.passwordHash ?? null, input.password);
      if (!user || !passwordOk || user.disabledAt !== null) return failed(meta.ip, email);
      if (user.totpEnabled) {
        if (!input.totp) throw new PostwardenError('TOTP_REQUIRED', 'Enter the 6-digit code from your authenticator app as `totp`.');
        if (!users.checkTotp(user, input.totp)) return failed(meta.ip, email);
      }
      const tenantId = user.tenantId ?? input.tenant;
      if (!tenantId) {
        throw new PostwardenError('VALIDATION_FAILED', 'A platform operator names the tenant to act on.', {
          errors: [{ path: '/tenant', message: 'is required for a platform operator' }],
        });
      }
      await throttles.account.clear(`login-account:${email}`);
      return startSession(user, tenantId, meta);
    },

    /** The live session a cookie token names, with the user's permissions now; undefined otherwise. */
    async resolve(token: string): Promise<ActiveSession | undefined> {
      const session = await store.sessions.get(hex(token));
      if (!session || session.revokedAt !== null || session.expiresAt <= clock.now()) return undefined;
      const user = await store.users.get(session.userId);
      if (!user || user.disabledAt !== null) return undefined;
      const tenant = await store.tenants.get(session.tenantId);
      if (!tenant) return undefined;
      return { session, user, tenant, permissions: await users.permissionsOfRole(user.tenantId ?? tenant.id, user.role) };
    },

    /** True when `presented` is the session's CSRF token (compared in constant time). */
    checkCsrf(session: SessionRow, presented: string | undefined): boolean {
      if (!presented) return false;
      const a = Buffer.from(session.csrfHash, 'hex');
      const b = sha256(presented);
      return a.length === b.length && timingSafeEqual(a, b);
    },

    logout: (token: string) => store.sessions.revoke(hex(token), clock.now()),
  };
}

export type Sessions = ReturnType<typeof createSessions>;
