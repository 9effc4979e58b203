import { Secret, TOTP } from 'otpauth';
import { type Clock, newId, PostwardenError, validationError } from '../core/index.js';
import type { Repositories, RoleRow, Store, UserRow } from '../store/index.js';
import { hashPassword, MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from './passwords.js';
import { builtInRoles, isBuiltInRole, type Permission, parseGrants, permissions, rolePermissions } from './permissions.js';

/**
 * People and roles. A user belongs to one tenant, or is a platform operator (`tenantId` null) who acts
 * on whichever tenant they sign in to. A role is a built-in name (permissions.ts) or a tenant's custom
 * role (a row); permissions are resolved from the role on every request, so a role change applies at
 * once. Two rules keep anyone from raising their own power: a caller grants only permissions it holds
 * itself (to a user's role or a custom role), and only an owner (or the host operator) makes or unmakes
 * an owner. The tenant always keeps one active owner.
 *
 * External identities (`external: { issuer, subject }`) are the seam SSO fills: it finds or creates
 * the user here and then starts a session with sessions.ts, like a password login does.
 */
export type Caller =
  | { kind: 'user'; userId: string; role: string; permissions: ReadonlySet<Permission> }
  | { kind: 'key'; keyId: string; permissions: ReadonlySet<Permission> }
  /** `postwarden users …` on the host: whoever can read the data directory owns the installation. */
  | { kind: 'host' };

/**
 * An audit entry as access hands it to the audit log (the audit concern's AuditInput, which access
 * does not import: the platform passes the audit service's `change` in).
 */
export interface AccessAuditEntry {
  actor: {
    kind: 'user' | 'system' | 'api_key' | 'operator' | 'cli';
    id: string;
    tenantId: string | null;
    ip?: string | null;
    userAgent?: string | null;
    keyId?: string | null;
  };
  action: string;
  resource: { type: string; id?: string | null };
  tenantId?: string | null;
  before?: unknown;
  after?: unknown;
}

export type AuditActor = AccessAuditEntry['actor'];

/** The audit service's `change`: runs `fn` in a transaction and appends what `entry` makes of its result there. */
export type AuditedChange = <T>(fn: (tx: Repositories) => Promise<T>, entry: (result: T) => AccessAuditEntry | undefined) => Promise<T>;

/** How a change of a user is recorded: by whom (the default entry), or the entry itself (SSO's sign-in). */
export interface Recorded {
  actor?: AuditActor;
  entry?: (user: UserRow) => AccessAuditEntry | undefined;
}

export interface UsersDeps {
  store: Pick<Store, 'users' | 'sessions' | 'tenants'>;
  /** Changes of users and roles are audited in their transaction; none: not recorded (tests of access alone). */
  audit?: AuditedChange;
  clock: Clock;
  /** Seals TOTP secrets at rest with the master key (governance/crypto.ts). */
  seal: (plain: string, aad: string) => string;
  open: (sealed: string, aad: string) => string;
  /** The issuer shown in authenticator apps. */
  issuer?: string;
}

export interface NewUser {
  tenantId: string | null;
  email: string;
  name?: string;
  role: string;
  password?: string;
  external?: { issuer: string; subject: string };
}

export interface UserPatchInput {
  role?: string;
  name?: string;
  disabled?: boolean;
  password?: string;
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const ROLE_NAME = /^[a-z][a-z0-9-]{1,39}$/;

export const normaliseEmail = (email: string) => email.trim().toLowerCase();

function checkPassword(password: string | undefined, path: string) {
  if (password === undefined) return;
  if (password.length < MIN_PASSWORD_LENGTH || password.length > MAX_PASSWORD_LENGTH) {
    throw validationError([{ path, message: `must be ${MIN_PASSWORD_LENGTH} to ${MAX_PASSWORD_LENGTH} characters` }]);
  }
}

/** Two-factor sign-in of a user as the audit log says it: off, pending (enrolled, not confirmed) or on. */
const totpState = (u: UserRow) => (u.totpEnabled ? 'on' : u.totpSecret !== null ? 'pending' : 'off');

/** A TOTP enrolment or confirmation entry: the state before and after, never the secret. */
const totpEntry = (actor: AuditActor, user: UserRow, action: string, after: 'pending' | 'on'): AccessAuditEntry => ({
  actor,
  tenantId: actor.tenantId,
  action,
  resource: { type: 'user', id: user.id },
  before: { totp: totpState(user) },
  after: { totp: after },
});

/** What the audit log keeps of a user: never the password hash or TOTP secret. */
const userFacts = (u: UserRow) => ({
  email: u.email,
  name: u.name,
  role: u.role,
  disabled: u.disabledAt !== null,
  sign_in: u.passwordHash !== null ? 'password' : 'sso',
});

export function createUsers({ store, clock, seal, open, audit, issuer = 'Postwarden' }: UsersDeps) {
  /**
   * Runs a change with its entry in one transaction (both or neither). Without an audit log, or with
   * nothing to record, it runs on the store as before.
   */
  function recorded<T>(
    fn: (tx: Pick<Repositories, 'users' | 'sessions'>) => Promise<T>,
    entry: ((result: T) => AccessAuditEntry | undefined) | undefined,
  ): Promise<T> {
    return audit && entry ? audit(fn, entry) : fn(store);
  }

  const totpAad = (userId: string) => `users.totp:${userId}`;
  const totpFor = (user: UserRow, secret: string) =>
    new TOTP({ issuer, label: user.email, algorithm: 'SHA1', digits: 6, period: 30, secret: Secret.fromBase32(secret) });

  async function permissionsOfRole(tenantId: string | null, role: string): Promise<ReadonlySet<Permission>> {
    if (isBuiltInRole(role)) return new Set(rolePermissions[role]);
    if (tenantId === null) return new Set();
    const custom = await store.users.getRole(tenantId, role);
    return new Set((custom?.permissions ?? []).filter((p): p is Permission => (permissions as readonly string[]).includes(p)));
  }

  /** Throws FORBIDDEN naming the first permission the caller would hand out without holding it. */
  function assertCanGrant(caller: Caller, granted: Iterable<Permission>) {
    if (caller.kind === 'host') return;
    for (const p of granted) {
      if (!caller.permissions.has(p)) {
        throw new PostwardenError('FORBIDDEN', `You cannot grant "${p}": you do not hold it yourself.`, { permission: p });
      }
    }
  }

  function assertOwnerRule(caller: Caller, role: string) {
    if (role !== 'owner') return;
    if (caller.kind === 'host' || (caller.kind === 'user' && caller.role === 'owner')) return;
    throw new PostwardenError('FORBIDDEN', 'Only an owner can make or unmake an owner.', { permission: 'users:write' });
  }

  async function roleExists(tenantId: string | null, role: string): Promise<boolean> {
    if (isBuiltInRole(role)) return true;
    return tenantId !== null && (await store.users.getRole(tenantId, role)) !== undefined;
  }

  async function getUser(tenantId: string | null, id: string): Promise<UserRow> {
    const u = await store.users.get(id);
    if (!u || u.tenantId !== tenantId) throw new PostwardenError('NOT_FOUND', `user ${id} does not exist`, { id });
    return u;
  }

  return {
    permissionsOfRole,
    getUser,

    /**
     * `record.actor`: a `user.created` entry by that actor, in the insert's transaction;
     * `record.entry`: that entry instead (SSO records its sign-in with the user it creates).
     */
    async createUser(caller: Caller, input: NewUser, record: Recorded = {}): Promise<UserRow> {
      const email = normaliseEmail(input.email ?? '');
      if (!EMAIL.test(email) || email.length > 254) throw validationError([{ path: '/email', message: 'must be an email address' }]);
      checkPassword(input.password, '/password');
      if (input.tenantId !== null) await tenantMustExist(input.tenantId);
      if (!(await roleExists(input.tenantId, input.role))) {
        throw validationError([{ path: '/role', message: `unknown role "${input.role}"; built-in roles: ${builtInRoles.join(', ')}` }]);
      }
      assertOwnerRule(caller, input.role);
      assertCanGrant(caller, await permissionsOfRole(input.tenantId, input.role));
      if (await store.users.findByEmail(email)) {
        throw new PostwardenError('CONFLICT', `a user with email ${email} already exists`, {
          errors: [{ path: '/email', message: 'is already taken' }],
        });
      }
      const row: UserRow = {
        id: newId('usr', clock.now()),
        tenantId: input.tenantId,
        email,
        name: input.name?.trim() || email,
        role: input.role,
        passwordHash: input.password === undefined ? null : await hashPassword(input.password),
        totpSecret: null,
        totpEnabled: false,
        externalIssuer: input.external?.issuer ?? null,
        externalSubject: input.external?.subject ?? null,
        createdAt: clock.now(),
        disabledAt: null,
        lastLoginAt: null,
      };
      const { actor } = record;
      const entry =
        record.entry ??
        (actor
          ? (u: UserRow): AccessAuditEntry => {
              const { disabled: _, ...after } = userFacts(u);
              return { actor, tenantId: u.tenantId, action: 'user.created', resource: { type: 'user', id: u.id }, after };
            }
          : undefined);
      await recorded((tx) => tx.users.insert(row), entry && (() => entry(row)));
      return row;
    },

    listUsers: (tenantId: string | null) => store.users.list(tenantId),

    /** Changes a user; disabling one (or changing their password) ends every session they have. */
    async updateUser(caller: Caller, tenantId: string | null, id: string, patch: UserPatchInput, actor?: AuditActor): Promise<UserRow> {
      const user = await getUser(tenantId, id);
      checkPassword(patch.password, '/password');
      if (patch.role !== undefined && patch.role !== user.role) {
        if (!(await roleExists(tenantId, patch.role))) throw validationError([{ path: '/role', message: `unknown role "${patch.role}"` }]);
        assertOwnerRule(caller, patch.role);
        assertOwnerRule(caller, user.role);
        assertCanGrant(caller, await permissionsOfRole(tenantId, patch.role));
      }
      const disabling = patch.disabled === true && user.disabledAt === null;
      if (disabling) assertOwnerRule(caller, user.role);
      const losesOwner =
        user.role === 'owner' && user.disabledAt === null && (disabling || (patch.role !== undefined && patch.role !== 'owner'));
      if (losesOwner && tenantId !== null && (await store.users.countActive(tenantId, 'owner')) <= 1) {
        throw new PostwardenError('CONFLICT', 'This is the last active owner of the tenant: make another owner first.', { id });
      }
      // Hashed before the transaction: Argon2id takes a while, and the writer is shared.
      const passwordHash = patch.password !== undefined ? await hashPassword(patch.password) : undefined;
      const updated = await recorded(
        async (tx) => {
          await tx.users.update(id, {
            ...(patch.role !== undefined ? { role: patch.role } : {}),
            ...(patch.name !== undefined ? { name: patch.name.trim() || user.email } : {}),
            ...(patch.disabled !== undefined ? { disabledAt: patch.disabled ? (user.disabledAt ?? clock.now()) : null } : {}),
            ...(passwordHash !== undefined ? { passwordHash } : {}),
          });
          if (disabling || passwordHash !== undefined) await tx.sessions.revokeForUser(id, clock.now());
          return tx.users.get(id);
        },
        actor &&
          ((after: UserRow | undefined): AccessAuditEntry | undefined => {
            const [b, a] = [userFacts(user), after ? userFacts(after) : null];
            // The new password itself never: only that it changed (and every session ended).
            const signInChanged = passwordHash !== undefined;
            if (!signInChanged && JSON.stringify(b) === JSON.stringify(a)) return undefined;
            return {
              actor,
              tenantId,
              action: 'user.updated',
              resource: { type: 'user', id },
              before: b,
              after: { ...a, ...(signInChanged ? { sign_in_changed: true } : {}) },
            };
          }),
      );
      if (!updated || updated.tenantId !== tenantId) throw new PostwardenError('NOT_FOUND', `user ${id} does not exist`, { id });
      return updated;
    },

    /**
     * A credential compromise (src/compliance): ends every session of the user and clears their
     * password and TOTP, so nobody signs in with them until a new password is set (PATCH
     * /v1/users/{id}) and TOTP enrolled again. Owner rule as for disabling. Audited as
     * `user.sign_in_revoked` with the change.
     */
    async revokeSignIn(caller: Caller, tenantId: string, id: string, actor?: AuditActor): Promise<{ user: UserRow; sessions: number }> {
      const user = await getUser(tenantId, id);
      assertOwnerRule(caller, user.role);
      const now = clock.now();
      const sessions = await recorded(
        async (tx) => {
          const n = await tx.sessions.revokeForUser(id, now);
          await tx.users.update(id, { passwordHash: null, totpSecret: null, totpEnabled: false });
          return n;
        },
        actor &&
          ((n: number): AccessAuditEntry => ({
            actor,
            tenantId,
            action: 'user.sign_in_revoked',
            resource: { type: 'user', id },
            // Not named like secrets (redact.ts would blank them): whether there was a password and TOTP.
            before: { sign_in: user.passwordHash !== null ? 'password' : 'sso', two_factor: user.totpEnabled },
            after: { sign_in: 'none until a new password is set', two_factor: false, sessions_revoked: n },
          })),
      );
      return { user, sessions };
    },

    /**
     * Starts TOTP enrolment: a new secret, shown once, that counts only after confirmTotp. The secret
     * is stored with its `user.totp_enrolled` entry by `actor` (the person themselves); never in it.
     */
    async enrollTotp(userId: string, actor?: AuditActor): Promise<{ secret: string; uri: string }> {
      const user = await store.users.get(userId);
      if (!user) throw new PostwardenError('NOT_FOUND', `user ${userId} does not exist`, { id: userId });
      if (user.totpEnabled) throw new PostwardenError('CONFLICT', 'Two-factor sign-in is already on for this account.');
      const secret = new Secret({ size: 20 }).base32;
      await recorded(
        (tx) => tx.users.update(userId, { totpSecret: seal(secret, totpAad(userId)) }),
        actor && (() => totpEntry(actor, user, 'user.totp_enrolled', 'pending')),
      );
      return { secret, uri: totpFor(user, secret).toString() };
    },

    /** Turns TOTP on once the user proves their app has the secret (`user.totp_confirmed`, with the change). */
    async confirmTotp(userId: string, code: string, actor?: AuditActor): Promise<void> {
      const user = await store.users.get(userId);
      if (!user?.totpSecret) throw new PostwardenError('CONFLICT', 'Start enrolment first (POST /v1/me/totp).');
      if (user.totpEnabled) throw new PostwardenError('CONFLICT', 'Two-factor sign-in is already on for this account.');
      if (!this.checkTotp(user, code)) throw validationError([{ path: '/code', message: 'is not the current code of the authenticator' }]);
      await recorded(
        (tx) => tx.users.update(userId, { totpEnabled: true }),
        actor && (() => totpEntry(actor, user, 'user.totp_confirmed', 'on')),
      );
    },

    /** RFC 6238: the code of this 30 s step or the one either side (clock drift). */
    checkTotp(user: UserRow, code: string): boolean {
      if (!user.totpSecret || !/^\d{6}$/.test(code)) return false;
      const secret = open(user.totpSecret, totpAad(user.id));
      return totpFor(user, secret).validate({ token: code, timestamp: clock.now(), window: 1 }) !== null;
    },

    /** Built-in roles and the tenant's custom ones, each with its permissions. */
    async listRoles(tenantId: string): Promise<{ name: string; builtIn: boolean; description: string; permissions: Permission[] }[]> {
      const builtIn = builtInRoles.map((name) => ({
        name,
        builtIn: true,
        description: `Built-in role ${name}.`,
        permissions: [...rolePermissions[name]],
      }));
      const custom = (await store.users.listRoles(tenantId)).map((r) => ({
        name: r.name,
        builtIn: false,
        description: r.description,
        permissions: r.permissions as Permission[],
      }));
      return [...builtIn, ...custom];
    },

    async putRole(
      caller: Caller,
      tenantId: string,
      name: string,
      input: { permissions: string[]; description?: string },
      actor?: AuditActor,
    ): Promise<RoleRow> {
      if (isBuiltInRole(name)) throw validationError([{ path: '/name', message: 'is a built-in role and cannot be changed' }]);
      if (!ROLE_NAME.test(name))
        throw validationError([{ path: '/name', message: 'must be 2-40 of a-z, 0-9 and -, starting with a letter' }]);
      const parsed = parseGrants(input.permissions, { aliases: false });
      if (!parsed.ok) throw validationError([{ path: '/permissions', message: `unknown permission(s) ${parsed.bad.join(', ')}` }]);
      assertCanGrant(caller, parsed.grants as Permission[]);
      const row: RoleRow = {
        tenantId,
        name,
        permissions: parsed.grants,
        description: input.description?.trim() ?? '',
        updatedAt: clock.now(),
      };
      const previous = actor ? await store.users.getRole(tenantId, name) : undefined;
      const facts = (r: RoleRow) => ({ permissions: r.permissions, description: r.description });
      await recorded(
        (tx) => tx.users.putRole(row),
        actor &&
          (() => ({
            actor,
            tenantId,
            action: 'role.updated',
            resource: { type: 'role', id: name },
            before: previous ? facts(previous) : null,
            after: facts(row),
          })),
      );
      return row;
    },

    async deleteRole(tenantId: string, name: string, actor?: AuditActor): Promise<void> {
      if (isBuiltInRole(name)) throw validationError([{ path: '/name', message: 'is a built-in role and cannot be removed' }]);
      const held = await store.users.countWithRole(tenantId, name);
      if (held > 0) throw new PostwardenError('CONFLICT', `${held} user(s) still have role ${name}: give them another role first.`);
      const previous = actor ? await store.users.getRole(tenantId, name) : undefined;
      const deleted = await recorded(
        (tx) => tx.users.deleteRole(tenantId, name),
        actor &&
          ((done: boolean) =>
            done && previous
              ? {
                  actor,
                  tenantId,
                  action: 'role.deleted',
                  resource: { type: 'role', id: name },
                  before: { permissions: previous.permissions, description: previous.description },
                }
              : undefined),
      );
      if (!deleted) throw new PostwardenError('NOT_FOUND', `role ${name} does not exist`);
    },

    /**
     * Throws unless `role` exists for the tenant and the caller could give it to a user directly
     * (SSO role mappings hand out roles too: sso.ts).
     */
    async checkGrantable(caller: Caller, tenantId: string, role: string, path: string): Promise<void> {
      if (!(await roleExists(tenantId, role))) throw validationError([{ path, message: `unknown role "${role}"` }]);
      assertOwnerRule(caller, role);
      assertCanGrant(caller, await permissionsOfRole(tenantId, role));
    },

    /** SSO seam: the user an external identity is linked to, if any. */
    findByExternalIdentity: (issuer: string, subject: string) => store.users.findByExternal(issuer, subject),
  };

  async function tenantMustExist(tenantId: string) {
    if (!(await store.tenants.get(tenantId))) throw new PostwardenError('NOT_FOUND', `tenant ${tenantId} does not exist`, { id: tenantId });
  }
}

export type Users = ReturnType<typeof createUsers>;
