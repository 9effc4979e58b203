import type { Clock } from '../core/index.js';
import type { Store } from '../store/index.js';
import { createSessions } from './sessions.js';
import { createSso, type SsoDeps } from './sso.js';
import { createThrottle, type ThrottlePolicy } from './throttle.js';
import { type AuditedChange, createUsers } from './users.js';

/**
 * The access concern, built once in platform.ts: users and roles, sessions, and the three failure
 * throttles (login per address, login per account, unknown API keys per address), and single sign-on
 * (sso.ts: OpenID Connect and SAML, ending in the same sessions).
 */
export interface AccessDeps {
  store: Pick<Store, 'users' | 'sessions' | 'tenants' | 'accessThrottle' | 'sso'>;
  clock: Clock;
  seal: (plain: string, aad: string) => string;
  open: (sealed: string, aad: string) => string;
  config: { sessionHours: number; login: ThrottlePolicy; account: ThrottlePolicy; keys: ThrottlePolicy };
  /** Where SSO refusals and failures, which change nothing, are recorded (the audit log); none: not recorded. */
  audit?: SsoDeps['audit'];
  /**
   * The audit service's `change`: user and role changes, sign-ins (with their session row), sign-outs,
   * TOTP enrolment and SSO's provider settings commit with their entry.
   */
  auditChange?: AuditedChange;
  /** server.publicUrl: the base of the SSO callback URLs; empty: the origin of the request. */
  publicUrl?: string;
}

export function createAccess({ store, clock, seal, open, config, audit, auditChange, publicUrl = '' }: AccessDeps) {
  const users = createUsers({ store, clock, seal, open, ...(auditChange ? { audit: auditChange } : {}) });
  const throttles = {
    address: createThrottle({ store, clock, policy: config.login, what: 'failed sign-ins from this address' }),
    account: createThrottle({ store, clock, policy: config.account, what: 'failed sign-ins to this account' }),
    // Checked on every keyed request: read from the store at most once a second per address.
    keys: createThrottle({ store, clock, policy: config.keys, what: 'unknown API keys from this address', memoMs: 1000 }),
  };
  const sessions = createSessions({
    store,
    users,
    clock,
    sessionHours: config.sessionHours,
    throttles,
    ...(auditChange ? { audit: auditChange } : {}),
  });
  const sso = createSso({
    store,
    users,
    sessions,
    clock,
    seal,
    open,
    throttle: throttles.address,
    audit: audit ?? (async () => undefined),
    ...(auditChange ? { change: auditChange } : {}),
    publicUrl,
  });
  return { users, sessions, sso, keyThrottle: throttles.keys };
}

export type Access = ReturnType<typeof createAccess>;
