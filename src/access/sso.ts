import { createHash, randomBytes } from 'node:crypto';
import { type Clock, PostwardenError, validationError } from '../core/index.js';
import type { SsoProtocol, SsoRequestRow, Store, UserRow } from '../store/index.js';
import { createOidcLogin } from './oidc-login.js';
import { createSamlLogin } from './saml-login.js';
import type { RequestMeta, Sessions, StartedSession } from './sessions.js';
import { type OidcSettings, OidcSettingsJson, parseSettings, roleFor, type SamlSettings, SamlSettingsJson } from './sso-settings.js';
import type { Throttle } from './throttle.js';
import type { AccessAuditEntry, AuditedChange, Caller, Users } from './users.js';

/**
 * Single sign-on for people: OpenID Connect (authorization code + PKCE, openid-client) and SAML 2.0
 * (SP side, node-saml), each a tenant's setting (sso_providers). Both end the same way, here: the
 * identity the provider vouched for (issuer + subject, email, groups) is mapped to a role
 * (sso-settings.ts), linked to a user (created just in time when the tenant allows), and given a
 * session by sessions.startSession, the very function a password login ends with.
 *
 * State that must survive between the redirect out and the answer back (OIDC state, nonce and PKCE
 * verifier; the SAML request ID) is a row in `sso_requests`, taken once; used SAML assertion IDs are
 * rows in `sso_assertions` until their NotOnOrAfter. Both are in the store, so a sign-in may start on
 * one node and finish on another, and a replay is refused on every node.
 *
 * Every sign-in, refusal (no role, a disabled user) and failure (a bad state, code, signature or
 * replay, once the tenant is known) is audited; failures also count against the address like wrong
 * passwords (throttle.ts).
 */
export type SsoAuditEntry = AccessAuditEntry;

export interface SsoDeps {
  store: Pick<Store, 'sso' | 'users'>;
  users: Users;
  sessions: Pick<Sessions, 'startSession'>;
  clock: Clock;
  seal: (plain: string, aad: string) => string;
  open: (sealed: string, aad: string) => string;
  /** Failed SSO answers count here, as failed passwords do (`login-ip:<address>`). */
  throttle: Throttle;
  /** Appends to the audit log (audit-service `record`): refusals and failures, which change nothing. */
  audit: (entry: SsoAuditEntry) => Promise<unknown>;
  /** The audit service's `change`: provider settings commit with their sso.configured / sso.removed entry. */
  change?: AuditedChange;
  /** server.publicUrl; empty: the origin the request came to. */
  publicUrl: string;
}

/** The person an identity provider vouched for. */
export interface ExternalIdentity {
  protocol: SsoProtocol;
  issuer: string;
  subject: string;
  email: string | undefined;
  name: string | undefined;
  groups: string[];
}

export interface SsoConfigInput {
  oidc?: (Record<string, unknown> & { client_secret?: string }) | null;
  saml?: Record<string, unknown> | null;
}

/** A started sign-in: where to send the browser, and the value the browser must bring back (OIDC). */
export interface SsoStart {
  location: string;
  binding?: string;
}

const REQUEST_TTL_MS = 10 * 60_000;
const hex = (s: string) => createHash('sha256').update(s).digest('hex');
const secretAad = (tenantId: string) => `sso.oidc.client_secret:${tenantId}`;

export function createSso(deps: SsoDeps) {
  const { store, users, sessions, clock, throttle, audit } = deps;
  /** A change with its entry in one transaction; without the audit log, the change alone. */
  const recorded = <T>(fn: (tx: Pick<Store, 'sso'>) => Promise<T>, entry: (result: T) => SsoAuditEntry | undefined): Promise<T> =>
    deps.change ? deps.change(fn, entry) : fn(store);
  const base = (origin: string) => (deps.publicUrl || origin).replace(/\/+$/, '');

  async function provider<T>(tenantId: string, protocol: SsoProtocol): Promise<{ settings: T; secret: string | null; updatedAt: number }> {
    if (!tenantId) throw validationError([{ path: '/tenant', message: 'is required: the tenant (ten_…) to sign in to' }]);
    const row = await store.sso.getProvider(tenantId, protocol);
    if (!row) {
      throw new PostwardenError('NOT_FOUND', `This tenant has no ${protocol === 'oidc' ? 'OpenID Connect' : 'SAML'} sign-in configured.`, {
        errors: [{ path: '/tenant', message: `has no ${protocol} provider (PUT /v1/tenant/sso)` }],
      });
    }
    return {
      settings: JSON.parse(row.settings) as T,
      secret: row.secret === null ? null : deps.open(row.secret, secretAad(tenantId)),
      updatedAt: row.updatedAt,
    };
  }

  /** Refuses an answer that cannot be trusted: counted against the address, audited when the tenant is known. */
  async function failed(tenantId: string | undefined, protocol: SsoProtocol, reason: string, meta: RequestMeta): Promise<never> {
    await throttle.fail(`login-ip:${meta.ip}`);
    if (tenantId) {
      await audit({
        actor: { kind: 'system', id: `sso-${protocol}`, tenantId, ip: meta.ip, userAgent: meta.userAgent ?? null },
        action: 'sso.sign_in_failed',
        resource: { type: 'sso_provider', id: protocol },
        after: { protocol, reason },
      });
    }
    throw new PostwardenError('SSO_FAILED', `Single sign-on failed: ${reason} No session was started; start again.`, { protocol });
  }

  /**
   * Refuses a person the provider vouched for (403 SSO_REFUSED, saying why), audited first. `error`
   * answers otherwise: a disabled user gets the 401 the session check gives, the entry reason `disabled`.
   */
  async function refused(
    tenantId: string,
    who: ExternalIdentity,
    reason: string,
    meta: RequestMeta,
    error = new PostwardenError('SSO_REFUSED', reason, { protocol: who.protocol, groups: who.groups }),
  ): Promise<never> {
    await audit({
      actor: { kind: 'system', id: `sso-${who.protocol}`, tenantId, ip: meta.ip, userAgent: meta.userAgent ?? null },
      action: 'sso.sign_in_refused',
      resource: { type: 'sso_provider', id: who.protocol },
      after: { protocol: who.protocol, issuer: who.issuer, subject: who.subject, email: who.email ?? null, groups: who.groups, reason },
    });
    throw error;
  }

  /** Maps, links or creates, and signs in: the end both protocols share. */
  async function signIn(
    tenantId: string,
    settings: OidcSettings | SamlSettings,
    who: ExternalIdentity,
    meta: RequestMeta,
  ): Promise<StartedSession> {
    const role = roleFor(settings, who.groups);
    let user = await users.findByExternalIdentity(who.issuer, who.subject);
    if (user && user.tenantId !== tenantId) return refused(tenantId, who, 'This identity is linked to a user of another tenant.', meta);
    if (user && user.disabledAt !== null) {
      // Checked here, before startSession's own check of the same row would refuse without an entry,
      // so the refusal is recorded. The same answer as that check: 401, no session, no role change.
      return refused(tenantId, who, 'disabled', meta, new PostwardenError('UNAUTHENTICATED', 'This user is disabled in this tenant.'));
    }
    if (!role) {
      const groups = who.groups.length ? who.groups.join(', ') : 'none';
      return refused(
        tenantId,
        who,
        `None of your groups (${groups}) is mapped to a role in this tenant: ask an administrator to map one.`,
        meta,
      );
    }
    let provisioned = false;
    let before: { role: string } | null = null;
    let patch: { role: string } | undefined;
    const signedIn = (u: UserRow): SsoAuditEntry => ({
      actor: { kind: 'user', id: u.id, tenantId, ip: meta.ip, userAgent: meta.userAgent ?? null },
      action: 'sso.signed_in',
      resource: { type: 'user', id: u.id },
      before,
      after: { protocol: who.protocol, issuer: who.issuer, subject: who.subject, email: u.email, role, groups: who.groups, provisioned },
    });
    if (!user) {
      if (!settings.provision_users)
        return refused(tenantId, who, 'No user is linked to this identity, and this tenant does not create users on sign-in.', meta);
      if (!who.email) return failed(tenantId, who.protocol, 'the identity provider sent no email address.', meta);
      if (await store.users.findByEmail(who.email.trim().toLowerCase())) {
        return refused(tenantId, who, `A user with email ${who.email} already exists and is not linked to this identity.`, meta);
      }
      const host: Caller = { kind: 'host' };
      provisioned = true;
      // The new user and its sign-in entry commit together (the session starts after: a fresh user of
      // an existing tenant is neither disabled nor of another tenant, so startSession does not refuse).
      user = await users.createUser(
        host,
        {
          tenantId,
          email: who.email,
          ...(who.name ? { name: who.name } : {}),
          role,
          external: { issuer: who.issuer, subject: who.subject },
        },
        { entry: signedIn },
      );
    } else if (user.role !== role) {
      // The IdP is the source of truth for the role: applied again at every sign-in, in the session's
      // transaction with its sso.signed_in entry (an entry that cannot be written leaves the old role).
      before = { role: user.role };
      patch = { role };
    }
    // A user created just now was inserted with its entry already; any other sign-in is recorded
    // with its session row.
    return sessions.startSession(user, tenantId, meta, { ...(patch ? { patch } : {}), ...(provisioned ? {} : { entry: signedIn }) });
  }

  const newRequest = async (
    tenantId: string,
    protocol: SsoProtocol,
    id: string,
    extra: { nonce?: string; verifier?: string; binding?: string },
  ) => {
    const now = clock.now();
    await store.sso.purgeExpired(now);
    await store.sso.insertRequest({
      id,
      tenantId,
      protocol,
      nonce: extra.nonce ?? null,
      codeVerifier: extra.verifier ?? null,
      browserHash: extra.binding ? hex(extra.binding) : null,
      createdAt: now,
      expiresAt: now + REQUEST_TTL_MS,
    });
  };

  /** The live request `id` names, of this protocol; undefined when unknown, expired or of the other. */
  const pendingRequest = async (id: string | undefined, protocol: SsoProtocol) => {
    const row = id ? await store.sso.getRequest(id) : undefined;
    return row && row.protocol === protocol && row.expiresAt > clock.now() ? row : undefined;
  };

  const shared: SsoShared = { store, clock, throttle, base, provider, failed, signIn, newRequest, pendingRequest, hex };
  const oidc = createOidcLogin(shared);
  const saml = createSamlLogin(shared);

  return {
    oidc,
    saml,

    /** The tenant's providers as settings (never the client secret). */
    async settings(
      tenantId: string,
    ): Promise<{ oidc: (OidcSettings & { updated_at: number }) | null; saml: (SamlSettings & { updated_at: number }) | null }> {
      const [o, s] = await Promise.all([store.sso.getProvider(tenantId, 'oidc'), store.sso.getProvider(tenantId, 'saml')]);
      return {
        oidc: o ? { ...(JSON.parse(o.settings) as OidcSettings), updated_at: o.updatedAt } : null,
        saml: s ? { ...(JSON.parse(s.settings) as SamlSettings), updated_at: s.updatedAt } : null,
      };
    },

    /**
     * Sets (an object) or removes (null) a tenant's providers; a protocol left out stays as it is.
     * Every mapped role must exist, and the caller must be able to grant it (users.ts rules), so
     * nobody hands out through the IdP a role they could not give directly.
     */
    async configure(caller: Caller, tenantId: string, input: SsoConfigInput, actor: SsoAuditEntry['actor']): Promise<void> {
      const now = clock.now();
      for (const protocol of ['oidc', 'saml'] as const) {
        const given = input[protocol];
        if (given === undefined) continue;
        const old = await store.sso.getProvider(tenantId, protocol);
        const before = old ? JSON.parse(old.settings) : null;
        if (given === null) {
          await recorded(
            (tx) => tx.sso.deleteProvider(tenantId, protocol),
            (deleted) => (deleted ? { actor, action: 'sso.removed', resource: { type: 'sso_provider', id: protocol }, before } : undefined),
          );
          continue;
        }
        let secret: string | null = null;
        let settings: OidcSettings | SamlSettings;
        if (protocol === 'oidc') {
          const { client_secret, ...rest } = given;
          settings = parseSettings(OidcSettingsJson, rest, '/oidc');
          if (typeof client_secret === 'string' && client_secret) secret = deps.seal(client_secret, secretAad(tenantId));
          else if (old?.secret) secret = old.secret;
          else
            throw new PostwardenError('VALIDATION_FAILED', 'client_secret is required', {
              errors: [{ path: '/oidc/client_secret', message: 'is required' }],
            });
        } else {
          settings = parseSettings(SamlSettingsJson, given, '/saml');
        }
        const roles = [...settings.role_mapping.map((m) => m.role), ...(settings.default_role ? [settings.default_role] : [])];
        for (const [i, role] of roles.entries()) await users.checkGrantable(caller, tenantId, role, `/${protocol}/role_mapping/${i}/role`);
        await recorded(
          (tx) => tx.sso.putProvider({ tenantId, protocol, settings: JSON.stringify(settings), secret, updatedAt: now }),
          () => ({
            actor,
            action: 'sso.configured',
            resource: { type: 'sso_provider', id: protocol },
            before,
            after: { ...settings, client_secret: secret ? 'set' : undefined },
          }),
        );
      }
    },

    /** A fresh random value for the browser-binding cookie of an OIDC sign-in. */
    newBinding: () => randomBytes(32).toString('base64url'),
  };
}

export type Sso = ReturnType<typeof createSso>;

/** What the two protocols' flows share (oidc-login.ts, saml-login.ts). */
export interface SsoShared {
  store: Pick<Store, 'sso'>;
  clock: Clock;
  throttle: Throttle;
  /** The public base URL the provider sends the browser back to. */
  base(origin: string): string;
  provider<T>(tenantId: string, protocol: SsoProtocol): Promise<{ settings: T; secret: string | null; updatedAt: number }>;
  failed(tenantId: string | undefined, protocol: SsoProtocol, reason: string, meta: RequestMeta): Promise<never>;
  signIn(tenantId: string, settings: OidcSettings | SamlSettings, who: ExternalIdentity, meta: RequestMeta): Promise<StartedSession>;
  newRequest(
    tenantId: string,
    protocol: SsoProtocol,
    id: string,
    extra: { nonce?: string; verifier?: string; binding?: string },
  ): Promise<void>;
  pendingRequest(id: string | undefined, protocol: SsoProtocol): Promise<SsoRequestRow | undefined>;
  hex(s: string): string;
}
