import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { MAX_PASSWORD_LENGTH, MeJson, UserJson, userExample, userJson } from '../../access/index.js';
import { isPostwardenError, PostwardenError, peerAddress } from '../../core/index.js';
import { IDEMPOTENT, JSON_BODY, problems } from '../contract/problem-schema.js';
import { actorOf } from '../plugins/actor.js';
import { clearSessionCookie, principalOf, SESSION_COOKIE, setSessionCookie } from '../plugins/auth.js';
import type { ApiServices } from '../services.js';
import { NoContent } from './json.js';

/**
 * Sign-in for people (src/access/sessions.ts): login sets the session cookie and answers the CSRF
 * token the dashboard sends back in X-CSRF-Token; logout ends the session everywhere; /me says who is
 * calling, with a key or a session. TOTP enrolment is the signed-in user's own business.
 */
/** A route any signed-in caller may use: no permission to lack, so no 403 but the CSRF one. */
const SIGNED_IN = [401, 429, 500, 503];

const LoginBody = Type.Object(
  {
    email: Type.String({ minLength: 1, maxLength: 254 }),
    password: Type.String({ minLength: 1, maxLength: MAX_PASSWORD_LENGTH }),
    totp: Type.Optional(Type.String({ pattern: '^[0-9]{6}$', description: 'The current code, when the account has two-factor sign-in.' })),
    tenant: Type.Optional(Type.String({ description: 'A platform operator names the tenant (ten_…) to act on.' })),
  },
  { additionalProperties: false, examples: [{ email: 'ana@example.com', password: 'correct horse battery staple' }] },
);

export const LoginJson = Type.Object(
  {
    user: UserJson,
    tenant_id: Type.String(),
    csrf_token: Type.String({ description: 'Send it in X-CSRF-Token with every POST, PUT, PATCH and DELETE made with the session.' }),
    expires_at: Type.String({ format: 'date-time', description: 'When the session ends unless you log out first.' }),
  },
  {
    additionalProperties: false,
    examples: [
      {
        user: userExample,
        tenant_id: 'ten_01JD7XW0P4Z9',
        csrf_token: 'mJ0b7pD3…',
        expires_at: '2026-01-05T21:31:00.000Z',
      },
    ],
  },
);

const TotpJson = Type.Object(
  {
    secret: Type.String({ description: 'Base32 secret, shown once; enter it in the authenticator app or scan the URI.' }),
    uri: Type.String({ description: 'otpauth:// URI for a QR code.' }),
  },
  { additionalProperties: false, examples: [{ secret: 'JBSWY3DPEHPK3PXP…', uri: 'otpauth://totp/Postwarden:ana%40example.com?…' }] },
);

export function authRoutes(app: FastifyInstance, s: ApiServices): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.post(
    '/auth/login',
    {
      schema: {
        tags: ['auth'],
        summary: 'Sign in with email and password',
        description:
          'Starts a session: a signed, HTTP-only, SameSite=Strict cookie, and a CSRF token to send in X-CSRF-Token with every change. ' +
          'A wrong email, password or code answers 401 with one message; TOTP_REQUIRED (401) asks for the code. Repeated failures from one ' +
          'address or for one account are slowed and then locked: 429 TOO_MANY_ATTEMPTS with Retry-After.',
        security: [],
        body: LoginBody,
        response: { 200: LoginJson, ...problems(401, 429, 500, 503, ...JSON_BODY) },
      },
    },
    async (request, reply) => {
      const started = await s.access.sessions
        .login(request.body, { ip: request.ip, userAgent: request.headers['user-agent'] })
        .catch((e: unknown) => {
          // A wrong credential, or one the throttle refused unread: a failed sign-in (auth-failure-burst).
          if (isPostwardenError(e) && (e.code === 'UNAUTHENTICATED' || e.code === 'TOO_MANY_ATTEMPTS')) {
            s.authFailed?.({ via: 'sign-in', address: peerAddress(request.ip) });
          }
          throw e;
        });
      setSessionCookie(reply, started.token, { expiresAt: started.expiresAt, secure: s.cookies.secure });
      return {
        user: userJson(started.user),
        tenant_id: started.tenant.id,
        csrf_token: started.csrfToken,
        expires_at: new Date(started.expiresAt).toISOString(),
      };
    },
  );
  r.post(
    '/auth/logout',
    {
      schema: {
        tags: ['auth'],
        summary: 'Sign out',
        description: 'Ends the session of the cookie at once, on every node. With an API key there is no session: nothing changes.',
        response: { 204: NoContent('Signed out.'), ...problems(...SIGNED_IN, 403, ...IDEMPOTENT) },
      },
    },
    async (request, reply) => {
      principalOf(request);
      const cookie = request.cookies[SESSION_COOKIE];
      const unsigned = cookie ? request.unsignCookie(cookie) : undefined;
      if (unsigned?.valid && unsigned.value && !request.headers.authorization) {
        await s.access.sessions.logout(unsigned.value, actorOf(request));
      }
      clearSessionCookie(reply);
      return reply.code(204).send(null);
    },
  );
  r.get(
    '/me',
    {
      schema: {
        tags: ['auth'],
        summary: 'Who is calling',
        description: 'The tenant, the key or the signed-in user, and the permissions this caller has now.',
        response: { 200: MeJson, ...problems(...SIGNED_IN) },
      },
    },
    async (request) => {
      const p = principalOf(request);
      return {
        kind: p.user ? ('session' as const) : ('key' as const),
        tenant_id: p.tenant.id,
        key_id: p.user ? null : p.keyId,
        user: p.user ? userJson(p.user) : null,
        permissions: [...p.permissions].sort(),
      };
    },
  );
  r.post(
    '/me/totp',
    {
      schema: {
        tags: ['auth'],
        summary: 'Start two-factor enrolment',
        description: 'A new TOTP secret for the signed-in user (RFC 6238, 6 digits, 30 s). It counts only after POST /v1/me/totp/confirm.',
        response: { 201: TotpJson, ...problems(...SIGNED_IN, 403, ...IDEMPOTENT) },
      },
    },
    async (request, reply) => {
      const user = signedInUser(request);
      return reply.code(201).send(await s.access.users.enrollTotp(user, actorOf(request)));
    },
  );
  r.post(
    '/me/totp/confirm',
    {
      schema: {
        tags: ['auth'],
        summary: 'Turn two-factor sign-in on',
        description: 'Proves the authenticator has the secret; from now on login needs `totp`.',
        body: Type.Object(
          { code: Type.String({ pattern: '^[0-9]{6}$' }) },
          { additionalProperties: false, examples: [{ code: '492039' }] },
        ),
        response: { 204: NoContent('Two-factor sign-in is on.'), ...problems(...SIGNED_IN, 403, ...IDEMPOTENT, ...JSON_BODY) },
      },
    },
    async (request, reply) => {
      await s.access.users.confirmTotp(signedInUser(request), request.body.code, actorOf(request));
      return reply.code(204).send(null);
    },
  );
}

function signedInUser(request: Parameters<typeof principalOf>[0]): string {
  const p = principalOf(request);
  if (!p.user) throw new PostwardenError('CONFLICT', 'Two-factor sign-in belongs to a person: sign in first; an API key has none.');
  return p.user.id;
}
