import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { OidcSettingsJson, SamlSettingsJson, type StartedSession, userJson } from '../../access/index.js';
import { AUTHED, JSON_BODY, problems } from '../contract/problem-schema.js';
import { actorOf } from '../plugins/actor.js';
import { principalOf, setSessionCookie } from '../plugins/auth.js';
import type { ApiServices } from '../services.js';
import { LoginJson } from './auth.js';
import { callerOf } from './users.js';

/**
 * Single sign-on (src/access/sso.ts): the browser is sent to the tenant's identity provider and comes
 * back to a callback that starts the same session a password login does (same cookie, same
 * LoginJson with the CSRF token). The OIDC start also sets `pw_sso`, a signed, HTTP-only,
 * SameSite=Lax cookie the callback must bring back, so a callback URL pushed into someone else's
 * browser signs nobody in (login CSRF). /v1/tenant/sso is where an administrator sets the providers.
 */
const BINDING_COOKIE = 'pw_sso';
const BINDING_PATH = '/v1/auth/oidc';

// Checked by the service (422 naming /tenant when absent), so every answer comes from one place.
const TenantQuery = Type.Object(
  {
    tenant: Type.Optional(Type.String({ maxLength: 100, description: 'The tenant (ten_…) whose identity provider signs the person in.' })),
  },
  { additionalProperties: false },
);
const Redirect = (description: string) => Type.Null({ description });
const Param = (description: string) => Type.Optional(Type.String({ maxLength: 4000, description }));
/** OpenID Connect Core §3.1.2.5/§3.1.2.6 and RFC 9207 (`iss`); other parameters are passed on too. */
const CallbackQuery = Type.Object(
  {
    code: Param('The authorization code.'),
    state: Param('The state the start sent.'),
    iss: Param('The issuer (RFC 9207), when the provider sends it.'),
    session_state: Param('OpenID session management, when the provider sends it.'),
    error: Param('The provider’s error code, instead of a code.'),
    error_description: Param('The provider’s words for it.'),
    error_uri: Param('A page about it.'),
  },
  { additionalProperties: true },
);
/**
 * Statuses of the public routes: a start knows no person yet (404 no provider, 422 no tenant, 401
 * provider unreachable); an answer back fails (401 SSO_FAILED), is refused (403 SSO_REFUSED) or comes
 * from an address locked out for failures (429).
 */
const START = [404, 422, 500, 503];
const ANSWER = [401, 403, 429, 500, 503];

const UpdatedAt = Type.Integer({ description: 'When the provider was last set (ms since the epoch).' });
const SsoSettingsJson = Type.Object(
  {
    oidc: Type.Union([
      Type.Object({ ...OidcSettingsJson.properties, updated_at: UpdatedAt }, { additionalProperties: false }),
      Type.Null(),
    ]),
    saml: Type.Union([
      Type.Object({ ...SamlSettingsJson.properties, updated_at: UpdatedAt }, { additionalProperties: false }),
      Type.Null(),
    ]),
  },
  {
    additionalProperties: false,
    description: "The tenant's identity providers; the client secret is never answered.",
    examples: [
      {
        oidc: {
          issuer: 'https://sso.example.com/realms/acme',
          client_id: 'postwarden',
          scopes: ['openid', 'email', 'profile'],
          groups_claim: 'groups',
          role_mapping: [{ group: 'mail-admins', role: 'admin' }],
          provision_users: true,
          updated_at: 1767605460000,
        },
        saml: null,
      },
    ],
  },
);

const origin = (request: FastifyRequest) => `${request.protocol}://${request.host}`;
const meta = (request: FastifyRequest) => ({ ip: request.ip, userAgent: request.headers['user-agent'] });

function signedIn(reply: FastifyReply, started: StartedSession, secure: ApiServices['cookies']['secure']) {
  setSessionCookie(reply, started.token, { expiresAt: started.expiresAt, secure });
  return {
    user: userJson(started.user),
    tenant_id: started.tenant.id,
    csrf_token: started.csrfToken,
    expires_at: new Date(started.expiresAt).toISOString(),
  };
}

export function ssoRoutes(app: FastifyInstance, s: ApiServices): void {
  const sso = s.access.sso;
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.get(
    '/auth/oidc/start',
    {
      schema: {
        tags: ['auth'],
        summary: 'Sign in with OpenID Connect',
        description:
          "Redirects (302) to the tenant's OpenID provider with state, nonce and PKCE (S256). The provider sends the browser back to " +
          'GET /v1/auth/oidc/callback. 404 when the tenant has no OIDC provider.',
        security: [],
        querystring: TenantQuery,
        response: { 302: Redirect('Location: the provider’s authorization endpoint.'), ...problems(...START, 401) },
      },
    },
    async (request, reply) => {
      const started = await sso.oidc.start(request.query.tenant ?? '', origin(request), sso.newBinding(), meta(request));
      const secure = s.cookies.secure === 'always' || (s.cookies.secure === 'auto' && request.protocol === 'https');
      reply.setCookie(BINDING_COOKIE, started.binding ?? '', {
        signed: true,
        httpOnly: true,
        // Lax: the provider's redirect back is a top-level cross-site GET, which Strict would not carry.
        sameSite: 'lax',
        secure,
        path: BINDING_PATH,
        maxAge: 600,
      });
      return reply.redirect(started.location, 302);
    },
  );

  r.get(
    '/auth/oidc/callback',
    {
      schema: {
        tags: ['auth'],
        summary: 'OpenID Connect callback',
        description:
          'Where the provider sends the browser back. Redeems the code, checks the ID token, maps the groups to a role, creates the user ' +
          'on first sign-in when the tenant allows, and starts a session as POST /v1/auth/login does. 401 SSO_FAILED: a wrong or used ' +
          'state, another browser, or a code the provider refused (expired, used); 403 SSO_REFUSED: no mapped group; 422: no state.',
        security: [],
        querystring: CallbackQuery,
        response: { 200: LoginJson, ...problems(...ANSWER, 422) },
      },
    },
    async (request, reply) => {
      const cookie = request.cookies[BINDING_COOKIE];
      const unsigned = cookie ? request.unsignCookie(cookie) : undefined;
      reply.clearCookie(BINDING_COOKIE, { path: BINDING_PATH });
      const binding = unsigned?.valid ? (unsigned.value ?? undefined) : undefined;
      const started = await sso.oidc.callback(request.query as Record<string, string>, binding, origin(request), meta(request));
      return signedIn(reply, started, s.cookies.secure);
    },
  );

  r.get(
    '/auth/saml/start',
    {
      schema: {
        tags: ['auth'],
        summary: 'Sign in with SAML',
        description:
          "Redirects (302) to the tenant's SAML IdP with an AuthnRequest (HTTP-Redirect binding); the IdP posts its Response to " +
          'POST /v1/auth/saml/acs. 404 when the tenant has no SAML IdP.',
        security: [],
        querystring: TenantQuery,
        response: { 302: Redirect('Location: the IdP’s SSO URL with SAMLRequest and RelayState.'), ...problems(...START) },
      },
    },
    async (request, reply) => {
      const started = await sso.saml.start(request.query.tenant ?? '', origin(request));
      return reply.redirect(started.location, 302);
    },
  );

  app.register(async (form) => {
    form.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) =>
      done(null, Object.fromEntries(new URLSearchParams(body as string))),
    );
    form.withTypeProvider<TypeBoxTypeProvider>().post(
      '/auth/saml/acs',
      {
        schema: {
          tags: ['auth'],
          summary: 'SAML assertion consumer service',
          description:
            "The IdP's Response (HTTP-POST binding). The assertion must be signed by the tenant's IdP certificate, answer the request " +
            'this sign-in started, be within its validity window, and never have been used before (assertion IDs are kept until ' +
            'NotOnOrAfter, on every node). Then as the OIDC callback: role mapping, user on first sign-in, a session. 401 SSO_FAILED, ' +
            '403 SSO_REFUSED.',
          security: [],
          body: Type.Object(
            {
              SAMLResponse: Type.Optional(Type.String({ maxLength: 500_000, description: 'Base64 of the IdP’s Response.' })),
              RelayState: Type.Optional(Type.String({ maxLength: 200 })),
            },
            { additionalProperties: true, examples: [{ SAMLResponse: 'PHNhbWxwOlJlc3BvbnNlIHhtbG5zOnNhbWxwPS…', RelayState: '_8f1c…' }] },
          ),
          response: { 200: LoginJson, ...problems(...ANSWER, 400, 413, 415, 422) },
        },
      },
      async (request, reply) => {
        const started = await sso.saml.acs(request.body, origin(request), meta(request));
        return signedIn(reply, started, s.cookies.secure);
      },
    );
  });

  r.get(
    '/tenant/sso',
    {
      schema: {
        tags: ['auth'],
        summary: "The tenant's identity providers",
        description: 'OIDC and SAML settings with their group → role mappings; the OIDC client secret is never answered.',
        response: { 200: SsoSettingsJson, ...problems(...AUTHED) },
      },
    },
    async (request) => sso.settings(principalOf(request).tenant.id),
  );

  r.put(
    '/tenant/sso',
    {
      schema: {
        tags: ['auth'],
        summary: "Set the tenant's identity providers",
        description:
          'Sets `oidc` and/or `saml` (an object) or removes one (null); a member left out stays as it is. Each mapped role must exist ' +
          'and be one the caller could give (only an owner maps to owner). `client_secret` is required the first time and sealed at rest.',
        body: Type.Object(
          {
            oidc: Type.Optional(Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()])),
            saml: Type.Optional(Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()])),
          },
          {
            additionalProperties: false,
            examples: [
              {
                oidc: {
                  issuer: 'https://idp.example.com/realms/acme',
                  client_id: 'postwarden',
                  client_secret: '…',
                  groups_claim: 'groups',
                  role_mapping: [{ group: 'mail-admins', role: 'admin' }],
                },
              },
            ],
          },
        ),
        response: { 200: SsoSettingsJson, ...problems(...AUTHED, ...JSON_BODY) },
      },
    },
    async (request) => {
      const p = principalOf(request);
      await sso.configure(callerOf(p), p.tenant.id, request.body, actorOf(request));
      return sso.settings(p.tenant.id);
    },
  );
}
