import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type Access, accessFor, checkPermission, type Permission, type RouteAccess, routeKey } from '../../access/index.js';
import { PostwardenError, peerAddress, residencyRefusal, servesRegion } from '../../core/index.js';
import type { Principal, Scope, Tenants } from '../../tenants/index.js';
import { problems } from '../contract/problem-schema.js';
import type { ApiServices } from '../services.js';

/**
 * Who is calling, and may they. Every /v1 route needs what src/access/route-permissions.ts says, the
 * one table; a /v1 route missing from it is refused (fail closed) and fails a test. Outside /v1 a
 * route may name a legacy `config.scope`. The caller is an API key (`Authorization: Bearer pw_…`) or a
 * signed-in person (the `pw_session` cookie, signed; unsafe methods also need `X-CSRF-Token`). The
 * principal (tenant, permissions, key or user) hangs on the request for handlers.
 *
 * Unknown keys count against the address (access.keys): past the backoff the address gets 429
 * TOO_MANY_ATTEMPTS before its key is even looked at, so guessing runs at a few tries a minute.
 */
declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
  interface FastifyContextConfig {
    scope?: Scope;
  }
  interface FastifyInstance {
    /** Every route as registered, with its legacy scope: what the permission table is checked against. */
    registeredRoutes: { method: string; url: string; scope: Scope | undefined }[];
  }
}

export const SESSION_COOKIE = 'pw_session';
export const CSRF_HEADER = 'x-csrf-token';

/** A legacy scope outside /v1 as the permission it stands for. */
const scopePermission: Record<Scope, Permission> = { send: 'messages:send', read: 'messages:read', admin: 'settings:write' };
const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface AuthDeps {
  tenants: Pick<Tenants, 'authenticate'>;
  access: Pick<Access, 'sessions' | 'keyThrottle'>;
  /** Told of each unknown key and each key refused by the throttle (ApiServices.authFailed). */
  authFailed?: ApiServices['authFailed'];
  /** Entries for routes a test adds beside the real ones (ApiOptions.extraRoutes). */
  extraPermissions?: Readonly<Record<string, RouteAccess>>;
  /**
   * Data residency (docs/residency.md): this node's region ('' = none). A tenant pinned to another
   * region gets nothing of its data here, only its settings and sign-in; `refused` records it.
   */
  residency?: { region: string; refused: (request: FastifyRequest, tenantRegion: string) => Promise<void> };
}

/**
 * What a node of another region still serves a pinned tenant: its settings (where the pin is read
 * and changed) and signing in and out. The compatibility send routes refuse in their own shape when
 * they reach accept.
 */
const servedAnywhere = (url: string) => url === '/v1/tenant' || url.startsWith('/v1/auth/') || url.startsWith('/v1/compat/');

/** What a request needs, or undefined for a route outside /v1 that names no scope (health, docs). */
function routeAccess(request: FastifyRequest, extra: Readonly<Record<string, RouteAccess>> = {}): RouteAccess | undefined {
  const url = request.routeOptions.url;
  if (!url) return undefined; // no route matched: the 404 handler answers
  if (url === '/v1' || url.startsWith('/v1/')) {
    const method = request.method === 'HEAD' ? 'GET' : request.method;
    const needed = accessFor(method, url) ?? extra[routeKey(method, url)];
    if (!needed) {
      throw new PostwardenError('FORBIDDEN', `${method} ${url} has no entry in the permission table; it is refused until it has one.`);
    }
    return needed;
  }
  const scope = request.routeOptions.config?.scope;
  return scope ? scopePermission[scope] : undefined;
}

/**
 * Resolves an API key, counting a wrong one against the address. A wrong key, and any key from an
 * address the throttle refuses, is also told to `authFailed` (in memory: no write of its own), so a
 * burst of guesses raises an alert while the throttle keeps them slow.
 */
export async function authenticateKey(deps: AuthDeps, request: FastifyRequest, secret: string): Promise<Principal | undefined> {
  const subject = `key-ip:${request.ip}`;
  const address = peerAddress(request.ip);
  try {
    await deps.access.keyThrottle.check(subject);
  } catch (e) {
    deps.authFailed?.({ via: 'api-key', address });
    throw e;
  }
  const principal = await deps.tenants.authenticate(secret);
  if (!principal) {
    deps.authFailed?.({ via: 'api-key', address });
    await deps.access.keyThrottle.fail(subject);
    return undefined;
  }
  return { ...principal, clientIp: address };
}

async function identify(deps: AuthDeps, request: FastifyRequest): Promise<Principal> {
  const header = request.headers.authorization;
  if (header !== undefined) {
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    const principal = m ? await authenticateKey(deps, request, m[1]!) : undefined;
    if (!principal) {
      throw new PostwardenError(
        'UNAUTHENTICATED',
        m ? 'The API key is unknown or revoked.' : 'Send an API key: Authorization: Bearer pw_…',
      );
    }
    return principal;
  }
  const cookie = request.cookies?.[SESSION_COOKIE];
  if (cookie) {
    const unsigned = request.unsignCookie(cookie);
    const active = unsigned.valid && unsigned.value ? await deps.access.sessions.resolve(unsigned.value) : undefined;
    if (!active) throw new PostwardenError('UNAUTHENTICATED', 'The session has ended (signed out, expired or disabled): sign in again.');
    if (!SAFE.has(request.method) && !deps.access.sessions.checkCsrf(active.session, headerValue(request, CSRF_HEADER))) {
      throw new PostwardenError(
        'CSRF_REJECTED',
        `Send the CSRF token given at login in ${CSRF_HEADER} with every change made in a session.`,
      );
    }
    return {
      tenant: active.tenant,
      keyId: active.user.id,
      scopes: [],
      permissions: active.permissions,
      user: active.user,
      clientIp: peerAddress(request.ip),
    };
  }
  throw new PostwardenError('UNAUTHENTICATED', 'Send an API key (Authorization: Bearer pw_…) or sign in (POST /v1/auth/login).');
}

const headerValue = (request: FastifyRequest, name: string) => {
  const v = request.headers[name];
  return Array.isArray(v) ? v[0] : v;
};

/**
 * Every route behind credentials can answer 429 TOO_MANY_ATTEMPTS (its address guessed keys): this
 * declares it on each, so the contract says so without every route file repeating it. Registered
 * before the hooks that read route schemas (response check, OpenAPI).
 */
export function declareThrottleAnswers(app: FastifyInstance): void {
  app.addHook('onRoute', (route) => {
    const response = route.schema?.response as Record<string, unknown> | undefined;
    if (!response || response[429] || !route.url.startsWith('/v1/')) return;
    const needed = [route.method].flat().map((m) => accessFor(m, route.url));
    if (needed.every((a) => a === undefined || a === 'public')) return;
    Object.assign(response, problems(429));
  });
}

export function registerAuth(app: FastifyInstance, deps: AuthDeps): void {
  app.decorateRequest('principal', undefined);
  const routes: FastifyInstance['registeredRoutes'] = [];
  app.decorate('registeredRoutes', routes);
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      if (method !== 'HEAD') routes.push({ method, url: route.url, scope: route.config?.scope });
    }
  });
  app.addHook('onRequest', async (request) => {
    const needed = routeAccess(request, deps.extraPermissions);
    if (needed === undefined || needed === 'public') return;
    const principal = await identify(deps, request);
    if (needed !== 'signed-in') {
      const label = principal.user ? `${principal.user.email} (role ${principal.user.role})` : `key ${principal.keyId}`;
      checkPermission({ permissions: principal.permissions, label }, needed);
    }
    request.principal = principal;
    const pinned = principal.tenant.dataRegion;
    if (deps.residency && !servesRegion(deps.residency.region, pinned) && !servedAnywhere(request.routeOptions.url ?? '')) {
      await deps.residency.refused(request, pinned!);
      throw residencyRefusal(deps.residency.region, pinned!, 'serve its data');
    }
  });
}

export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new PostwardenError('UNAUTHENTICATED', 'Send an API key: Authorization: Bearer pw_…');
  return request.principal;
}

/** Sets the session cookie: signed, HTTP-only, SameSite=Strict, Secure over HTTPS (access.secureCookies). */
export function setSessionCookie(
  reply: FastifyReply,
  token: string,
  opts: { expiresAt: number; secure: 'auto' | 'always' | 'never' },
): FastifyReply {
  const secure = opts.secure === 'always' || (opts.secure === 'auto' && reply.request.protocol === 'https');
  return reply.setCookie(SESSION_COOKIE, token, {
    signed: true,
    httpOnly: true,
    sameSite: 'strict',
    secure,
    path: '/',
    expires: new Date(opts.expiresAt),
  });
}

export function clearSessionCookie(reply: FastifyReply): FastifyReply {
  return reply.clearCookie(SESSION_COOKIE, { path: '/' });
}
