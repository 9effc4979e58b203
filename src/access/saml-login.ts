import { randomBytes } from 'node:crypto';
import { SAML, ValidateInResponseTo } from '@node-saml/node-saml';
import { validationError } from '../core/index.js';
import type { RequestMeta, StartedSession } from './sessions.js';
import type { SsoShared, SsoStart } from './sso.js';
import { type SamlSettings, stringsOf } from './sso-settings.js';

/**
 * SAML 2.0 sign-in, the service provider (Web Browser SSO profile, SAML Profiles §4.1): an
 * AuthnRequest by HTTP-Redirect, the Response by HTTP-POST to /v1/auth/saml/acs. node-saml checks the
 * XML signature over the assertion against the tenant's IdP certificate (wantAssertionsSigned: an
 * unsigned or altered assertion is refused), the Issuer, the Audience and the NotBefore/NotOnOrAfter
 * windows. We add what a cluster needs and node-saml keeps in memory: the request ID is a row in
 * `sso_requests` (RelayState names it; the Response must answer it, InResponseTo), and the assertion
 * ID is remembered in `sso_assertions` until its NotOnOrAfter, so the same assertion posted again, to
 * any node, is refused (Profiles §4.1.4.5: the SP must not accept an assertion twice).
 */
const ACS = '/v1/auth/saml/acs';

interface ParsedAssertion {
  Assertion?: {
    $?: { ID?: string };
    Conditions?: { $?: { NotOnOrAfter?: string } }[];
  };
}

export function createSamlLogin(s: SsoShared) {
  function spOf(settings: SamlSettings, origin: string, requestId = '') {
    const acs = s.base(origin) + ACS;
    const entity = settings.sp_entity_id || acs;
    return new SAML({
      entryPoint: settings.sso_url,
      issuer: entity,
      audience: entity,
      callbackUrl: acs,
      idpCert: settings.certificate,
      idpIssuer: settings.idp_entity_id,
      wantAssertionsSigned: true,
      wantAuthnResponseSigned: false,
      // InResponseTo is checked against sso_requests below (shared by every node), not in memory.
      validateInResponseTo: ValidateInResponseTo.never,
      disableRequestedAuthnContext: true,
      acceptedClockSkewMs: 60_000,
      generateUniqueId: () => requestId,
    });
  }

  return {
    async start(tenantId: string, origin: string): Promise<SsoStart> {
      const { settings } = await s.provider<SamlSettings>(tenantId, 'saml');
      // An XML ID starts with a letter or underscore (XML Schema NCName).
      const id = `_${randomBytes(20).toString('hex')}`;
      await s.newRequest(tenantId, 'saml', id, {});
      return { location: await spOf(settings, origin, id).getAuthorizeUrlAsync(id, undefined, {}) };
    },

    /** The IdP's POST: the base64 SAMLResponse and the RelayState start() gave. */
    async acs(body: { SAMLResponse?: string; RelayState?: string }, origin: string, meta: RequestMeta): Promise<StartedSession> {
      await s.throttle.check(`login-ip:${meta.ip}`);
      const samlResponse = body.SAMLResponse;
      if (!samlResponse) throw validationError([{ path: '/SAMLResponse', message: 'is required (the IdP posts it)' }]);
      const request = await s.pendingRequest(body.RelayState, 'saml');
      if (!request) return s.failed(undefined, 'saml', 'the RelayState is unknown, expired or already used.', meta);
      const tenantId = request.tenantId;
      const p = await s.provider<SamlSettings>(tenantId, 'saml').catch(() => undefined);
      if (!p) return s.failed(tenantId, 'saml', 'this tenant no longer has a SAML IdP.', meta);
      const { settings } = p;
      let profile: Awaited<ReturnType<SAML['validatePostResponseAsync']>>['profile'];
      try {
        profile = (await spOf(settings, origin).validatePostResponseAsync({ SAMLResponse: samlResponse })).profile;
      } catch (e) {
        return s.failed(tenantId, 'saml', `the SAML response was refused (${(e as Error).message}).`, meta);
      }
      if (!profile) return s.failed(tenantId, 'saml', 'the SAML response holds no assertion.', meta);
      const assertion = (profile.getAssertion?.() ?? {}) as ParsedAssertion;
      const assertionId = assertion.Assertion?.$?.ID;
      if (!assertionId) return s.failed(tenantId, 'saml', 'the assertion has no ID.', meta);
      const notOnOrAfter = Date.parse(assertion.Assertion?.Conditions?.[0]?.$?.NotOnOrAfter ?? '');
      // Kept until the assertion expires (+ the clock skew we accept); one hour when it names no end.
      const keepUntil = (Number.isFinite(notOnOrAfter) ? notOnOrAfter : s.clock.now() + 3_600_000) + 60_000;
      if (!(await s.store.sso.rememberAssertion(`${settings.idp_entity_id} ${assertionId}`, tenantId, keepUntil))) {
        return s.failed(tenantId, 'saml', `assertion ${assertionId} was already used (a replay).`, meta);
      }
      if (profile.inResponseTo !== request.id) {
        return s.failed(tenantId, 'saml', 'the response does not answer the request this browser started (InResponseTo).', meta);
      }
      if (!(await s.store.sso.takeRequest(request.id))) return s.failed(tenantId, 'saml', 'the request was already answered.', meta);
      const email = stringsOf(profile[settings.email_attribute])[0] ?? (profile.nameID.includes('@') ? profile.nameID : undefined);
      return s.signIn(
        tenantId,
        settings,
        {
          protocol: 'saml',
          issuer: settings.idp_entity_id,
          subject: profile.nameID,
          email,
          name: stringsOf(profile.displayName ?? profile.name)[0],
          groups: stringsOf(profile[settings.groups_attribute]),
        },
        meta,
      );
    },
  };
}
