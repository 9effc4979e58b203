import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import {
  call,
  IDP,
  oidcToCallback,
  postSamlResponse,
  rsaIdp,
  samlResponse,
  startOidcProvider,
  startSaml,
} from '../../support/sso-peers.js';
import type { Contract } from './harness.js';

/**
 * Single sign-on (src/access/sso.ts): settings, and each protocol's start and answer through every
 * status, against the loopback peers of test/support/sso-peers.ts. Failures here count against the
 * address like wrong passwords: three of them, under the backoff of access.login with driveAccess's one.
 */
export async function driveSso(c: Contract, t: TestContext): Promise<void> {
  const { p, expect } = c;
  const { issuer } = await startOidcProvider(t, `${p.url}/v1/auth/oidc/callback`);
  const idp = await rsaIdp();
  const mapping = [{ group: 'developers', role: 'developer' }];
  const oidc = {
    issuer,
    client_id: 'postwarden',
    client_secret: 'oidc-test-client-secret',
    scopes: ['openid', 'email', 'profile', 'groups'],
    role_mapping: mapping,
  };
  const saml = { idp_entity_id: IDP, sso_url: 'https://idp.corp.example/sso', certificate: idp.cert, role_mapping: mapping };
  await expect(422, 'PUT', '/v1/tenant/sso', { body: { saml: { ...saml, certificate: 'not a certificate' } } });
  await expect(200, 'PUT', '/v1/tenant/sso', { body: { oidc, saml } });
  await expect(200, 'GET', '/v1/tenant/sso');

  // OpenID Connect: 302 and 200 (a mapped person), 403 (no mapped group), 401, 404, 422.
  const dev = await oidcToCallback(p, 'dev');
  assert.equal((await call(dev.callback, dev.jar)).status, 200);
  const eve = await oidcToCallback(p, 'eve');
  assert.equal((await call(eve.callback, eve.jar)).status, 403);
  await expect(401, 'GET', '/v1/auth/oidc/callback?state=not-ours&code=x', { key: null });
  await expect(422, 'GET', '/v1/auth/oidc/callback?code=x', { key: null });
  await expect(404, 'GET', '/v1/auth/oidc/start?tenant=ten_missing', { key: null });
  await expect(422, 'GET', '/v1/auth/oidc/start', { key: null });
  const unreachable = await p.platform.tenants.createTenant({ name: 'SSO provider out of reach' });
  await p.platform.access.sso.configure(
    { kind: 'host' },
    unreachable.id,
    { oidc: { ...oidc, issuer: 'http://127.0.0.1:9/' } },
    { kind: 'cli', id: 'contract', tenantId: unreachable.id },
  );
  await expect(401, 'GET', `/v1/auth/oidc/start?tenant=${unreachable.id}`, { key: null });

  // SAML: 302 (startSaml), 200, 403, 401, 404, 422.
  const acs = `${p.url}/v1/auth/saml/acs`;
  const signIn = await startSaml(p);
  const signed = samlResponse({ ...idp, requestId: signIn.requestId, acs, email: 'sam@contract.example', groups: ['developers'] });
  assert.equal((await postSamlResponse(acs, signed.xml, signIn.relayState)).status, 200);
  const outsider = await startSaml(p);
  const unmapped = samlResponse({ ...idp, requestId: outsider.requestId, acs, email: 'out@contract.example', groups: ['marketing'] });
  assert.equal((await postSamlResponse(acs, unmapped.xml, outsider.relayState)).status, 403);
  assert.equal((await postSamlResponse(acs, signed.xml, 'not-a-relay-state')).status, 401);
  const form = { key: null, raw: { type: 'application/x-www-form-urlencoded', data: 'RelayState=x' } };
  await expect(422, 'POST', '/v1/auth/saml/acs', form);
  await expect(404, 'GET', '/v1/auth/saml/start?tenant=ten_missing', { key: null });
  await expect(422, 'GET', '/v1/auth/saml/start', { key: null });
  c.input('POST /v1/auth/saml/acs', {
    key: null,
    raw: { type: 'application/x-www-form-urlencoded', data: 'SAMLResponse=PHNhbWxwOlJlc3BvbnNlLz4%3D&RelayState=x' },
  });
}
