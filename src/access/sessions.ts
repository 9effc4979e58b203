import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { type Clock, PostwardenError } from '../core/index.js';
import type { Repositories, SessionRow, Store, Tenant, UserRow } from '../store/index.js';
import { verifyPassword } from './passwords.js';
import type { Permission } from './permissions.js';
import type { Throttle } from './throttle.js';
import { type AccessAuditEntry, type AuditedChange, normaliseEmail, type Users } from './users.js';

/**
 * Sign-in and sessions for people (the dashboard). A session is a random 256-bit token in a signed,
 * HTTP-only, SameSite=Strict cookie (the HTTP edge sets it); the store keeps only its SHA-256, so a
 * leaked database opens no session, and a row per session is what lets logout and disabling a user
 * end it at once on every node. Each session has a CSRF token, returned once at login and required in
 * `X-CSRF-Token` on every unsafe request made with the cookie (API keys need none: a browser never
 * sends a Bearer header by itself).
 *
 * `login` is the password path; `startSession` is the one function that makes a session, which SSO
 * calls after its own checks. Failed logins count per address and per account (throttle.ts).
 *
 * Audited (docs/governance.md): a sign-in commits its session row with its entry (`user.signed_in`,
 * or SSO's `sso.signed_in`), a sign-out its revocation with `user.signed_out`; a refused password
 * sign-in is recorded on its own after the failure is counted (`user.sign_in_refused`, actor system,
 * never the password). An attempt the throttle refuses (429) is not looked at, and not recorded.
 */
export interface SessionsDeps {
  store: Pick<Store, 'users' | 'sessions' | 'tenants'>;
  users: Users;
  clock: Clock;
  sessionHours: number;
  throttles: { address: Throttle; account: Throttle };
  /** The audit service's `change`; none: nothing recorded (tests of access alone). */
  audit?: AuditedChange;
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

/** How startSession records itself, and what it changes about the user with the session (SSO: the role). */
export interface SessionRecord {
  /** The entry, in the session's transaction; `session` names the session (a prefix of its token's hash). */
  entry?: (user: UserRow, session: string) => AccessAuditEntry | undefined;
  patch?: { role?: string };
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

/** Why a password sign-in was refused, as the audit log says it (the person is told only BAD_LOGIN). */
type Refusal = 'unknown_account' | 'wrong_password' | 'disabled' | 'wrong_totp';

/** What the audit log calls a session: enough to pair a sign-in with its sign-out, nothing to open it. */
const sessionRef = (tokenHash: string) => tokenHash.slice(0, 16);
const userAgentOf = (meta: RequestMeta) => meta.userAgent?.slice(0, 512) ?? null;

export function createSessions({ store, users, clock, sessionHours, throttles, audit }: SessionsDeps) {
  const denied = () => new PostwardenError('UNAUTHENTICATED', BAD_LOGIN);

  /** A change with its entry in one transaction; without an audit log (or an entry), the change alone. */
  function recorded<T>(
    fn: (tx: Pick<Repositories, 'users' | 'sessions'>) => Promise<T>,
    entry: ((result: T) => AccessAuditEntry | undefined) | undefined,
  ): Promise<T> {
    return audit && entry ? audit(fn, entry) : fn(store);
  }

  /**
   * Counts the failure (first: the throttle never waits on the audit log), records the refusal, and
   * refuses. The email is recorded only when it names a user: one that names nobody may be a password
   * typed in the wrong field.
   */
  async function failed(meta: RequestMeta, email: string, user: UserRow | undefined, reason: Refusal): Promise<never> {
    const [address, account] = await Promise.all([
      throttles.address.fail(`login-ip:${meta.ip}`),
      throttles.account.fail(`login-account:${email}`),
    ]);
    await recorded(
      async () => undefined,
      (): AccessAuditEntry => ({
        actor: { kind: 'system', id: 'password-sign-in', tenantId: user?.tenantId ?? null, ip: meta.ip, userAgent: userAgentOf(meta) },
        action: 'user.sign_in_refused',
        resource: { type: 'user', id: user?.id ?? null },
        after: { email: user?.email ?? null, reason, blocked_seconds: Math.max(address, account) },
      }),
    );
    throw denied();
  }

  async function startSession(user: UserRow, tenantId: string, meta: RequestMeta, record: SessionRecord = {}): Promise<StartedSession> {
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
    const tokenHash = hex(token);
    const signedIn: UserRow = { ...user, ...record.patch };
    // The session, the user's changes and the entry commit together, or none does.
    await recorded(
      async (tx) => {
        await tx.sessions.insert({
          tokenHash,
          userId: user.id,
          tenantId,
          csrfHash: hex(csrfToken),
          createdAt: now,
          expiresAt,
          revokedAt: null,
          ip: meta.ip,
          userAgent: meta.userAgent?.slice(0, 500) ?? null,
        });
        await tx.users.update(user.id, { ...record.patch, lastLoginAt: now });
      },
      record.entry && (() => record.entry?.(signedIn, sessionRef(tokenHash))),
    );
    return { token, csrfToken, user: signedIn, tenant, expiresAt };
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
      if (!user) return failed(meta, email, undefined, 'unknown_account');
      if (!passwordOk) return failed(meta, email, user, 'wrong_password');
      if (user.disabledAt !== null) return failed(meta, email, user, 'disabled');
      if (user.totpEnabled) {
        // A right password without its code is the first step of a two-step sign-in, not a refusal.
        if (!input.totp) throw new PostwardenError('TOTP_REQUIRED', 'Enter the 6-digit code from your authenticator app as `totp`.');
        if (!users.checkTotp(user, input.totp)) return failed(meta, email, user, 'wrong_totp');
      }
      const tenantId = user.tenantId ?? input.tenant;
      if (!tenantId) {
        throw new PostwardenError('VALIDATION_FAILED', 'A platform operator names the tenant to act on.', {
          errors: [{ path: '/tenant', message: 'is required for a platform operator' }],
        });
      }
      await throttles.account.clear(`login-account:${email}`);
      return startSession(user, tenantId, meta, {
        entry: (u, session) => ({
          actor: { kind: 'user', id: u.id, tenantId, ip: meta.ip, userAgent: userAgentOf(meta) },
          action: 'user.signed_in',
          resource: { type: 'user', id: u.id },
          after: { email: u.email, method: 'password', totp: u.totpEnabled, session },
        }),
      });
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

    /** Ends the session `token` names; `actor` (the request's) is recorded with the revocation. */
    async logout(token: string, actor?: AccessAuditEntry['actor']): Promise<void> {
      const tokenHash = hex(token);
      const session = await store.sessions.get(tokenHash);
      if (!session) return;
      const now = clock.now();
      await recorded(
        (tx) => tx.sessions.revoke(tokenHash, now),
        // Only a session that was still open ends now, and is recorded (an expired one had ended).
        (ended) =>
          ended && session.expiresAt > now && actor
            ? {
                actor,
                tenantId: session.tenantId,
                action: 'user.signed_out',
                resource: { type: 'user', id: session.userId },
                after: { session: sessionRef(tokenHash) },
              }
            : undefined,
      );
    },
  };
}

export type Sessions = ReturnType<typeof createSessions>;
