import * as oidc from 'openid-client';
import { validationError } from '../core/index.js';
import type { RequestMeta, StartedSession } from './sessions.js';
import type { SsoShared, SsoStart } from './sso.js';
import { isLoopbackUrl, type OidcSettings, stringsOf } from './sso-settings.js';

/**
 * OpenID Connect sign-in, the relying party (OpenID Connect Core 1.0 §3.1, authorization code flow,
 * with PKCE S256, RFC 7636). `start` makes a state, a nonce and a code verifier, keeps them in
 * `sso_requests` under the state, and answers the provider's authorization URL and a random binding
 * the edge puts in a cookie. `callback` takes the request its state names (once), checks that the
 * browser brought the same binding (login CSRF), then lets openid-client redeem the code: it checks
 * the state, the ID token's signature, issuer, audience, expiry and nonce, and the PKCE verifier is
 * what makes a stolen code useless. Claims missing from the ID token (providers often put email and
 * groups in userinfo only) are read from the userinfo endpoint.
 *
 * Discovery is done once per tenant and settings version and kept in memory; a plain-HTTP issuer is
 * accepted only on loopback (a provider on the same host, the tests).
 */
const CALLBACK = '/v1/auth/oidc/callback';

export function createOidcLogin(s: SsoShared) {
  const discovered = new Map<string, { version: number; config: oidc.Configuration }>();

  async function clientOf(tenantId: string, meta: RequestMeta): Promise<{ settings: OidcSettings; config: oidc.Configuration }> {
    const p = await s.provider<OidcSettings>(tenantId, 'oidc');
    return discover(tenantId, p, meta);
  }

  async function discover(tenantId: string, p: { settings: OidcSettings; secret: string | null; updatedAt: number }, meta: RequestMeta) {
    const hit = discovered.get(tenantId);
    if (hit && hit.version === p.updatedAt) return { settings: p.settings, config: hit.config };
    let config: oidc.Configuration;
    try {
      config = await oidc.discovery(
        new URL(p.settings.issuer),
        p.settings.client_id,
        undefined,
        oidc.ClientSecretBasic(p.secret ?? ''),
        isLoopbackUrl(p.settings.issuer) ? { execute: [oidc.allowInsecureRequests] } : undefined,
      );
    } catch (e) {
      return s.failed(tenantId, 'oidc', `the identity provider ${p.settings.issuer} could not be read (${(e as Error).message}).`, meta);
    }
    discovered.set(tenantId, { version: p.updatedAt, config });
    return { settings: p.settings, config };
  }

  return {
    async start(tenantId: string, origin: string, binding: string, meta: RequestMeta): Promise<SsoStart> {
      const { settings, config } = await clientOf(tenantId, meta);
      const state = oidc.randomState();
      const nonce = oidc.randomNonce();
      const verifier = oidc.randomPKCECodeVerifier();
      await s.newRequest(tenantId, 'oidc', state, { nonce, verifier, binding });
      const url = oidc.buildAuthorizationUrl(config, {
        redirect_uri: s.base(origin) + CALLBACK,
        scope: settings.scopes.join(' '),
        state,
        nonce,
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
      });
      return { location: url.href, binding };
    },

    /** The provider's answer (the callback's query); `binding` is the cookie the browser sent back. */
    async callback(query: Record<string, string>, binding: string | undefined, origin: string, meta: RequestMeta): Promise<StartedSession> {
      await s.throttle.check(`login-ip:${meta.ip}`);
      // No state at all is not a provider's answer (a link opened by hand): malformed, not counted.
      if (!query.state) throw validationError([{ path: '/state', message: 'is required: the provider sends it back' }]);
      const request = await s.pendingRequest(query.state, 'oidc');
      if (!request) return s.failed(undefined, 'oidc', 'the state is unknown, expired or already used.', meta);
      const tenantId = request.tenantId;
      if (!(await s.store.sso.takeRequest(request.id))) return s.failed(tenantId, 'oidc', 'the state was already used.', meta);
      if (!binding || s.hex(binding) !== request.browserHash) {
        return s.failed(tenantId, 'oidc', 'the sign-in was started in another browser (or its cookie was lost).', meta);
      }
      if (query.error) {
        return s.failed(
          tenantId,
          'oidc',
          `the identity provider answered ${query.error}${query.error_description ? `: ${query.error_description}` : ''}.`,
          meta,
        );
      }
      // The provider was removed while the person was away: as untrustworthy as any other failure here.
      const p = await s.provider<OidcSettings>(tenantId, 'oidc').catch(() => undefined);
      if (!p) return s.failed(tenantId, 'oidc', 'this tenant no longer has an OpenID provider.', meta);
      const { settings, config } = await discover(tenantId, p, meta);
      const current = new URL(s.base(origin) + CALLBACK);
      for (const [k, v] of Object.entries(query)) current.searchParams.set(k, v);
      let claims: Record<string, unknown>;
      try {
        const tokens = await oidc.authorizationCodeGrant(config, current, {
          pkceCodeVerifier: request.codeVerifier ?? '',
          expectedState: request.id,
          expectedNonce: request.nonce ?? '',
          idTokenExpected: true,
        });
        claims = { ...tokens.claims() };
        if ((claims.email === undefined || claims[settings.groups_claim] === undefined) && config.serverMetadata().userinfo_endpoint) {
          claims = { ...(await oidc.fetchUserInfo(config, tokens.access_token, String(claims.sub))), ...claims };
        }
      } catch (e) {
        return s.failed(tenantId, 'oidc', `the identity provider's answer was refused (${describe(e)}).`, meta);
      }
      return s.signIn(
        tenantId,
        settings,
        {
          protocol: 'oidc',
          issuer: config.serverMetadata().issuer,
          subject: String(claims.sub),
          email: typeof claims.email === 'string' ? claims.email : undefined,
          name: typeof claims.name === 'string' ? claims.name : undefined,
          groups: stringsOf(claims[settings.groups_claim]),
        },
        meta,
      );
    },
  };
}

/** The provider's own words when it refused (invalid_grant: the code is expired or used), else the check that failed. */
function describe(e: unknown): string {
  if (e instanceof oidc.ResponseBodyError) return `${e.error}${e.error_description ? `: ${e.error_description}` : ''}`;
  return (e as Error).message;
}
