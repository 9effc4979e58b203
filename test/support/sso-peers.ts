// @peculiar/x509 resolves its algorithms through tsyringe, which needs reflect-metadata first.
import 'reflect-metadata';
import assert from 'node:assert/strict';
import { webcrypto } from 'node:crypto';
import { createServer, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';
import { inflateRawSync } from 'node:zlib';
import * as x509 from '@peculiar/x509';
// @ts-expect-error oidc-provider 8 ships no types (it is a test peer only); the few calls used are typed below.
import OidcProvider from 'oidc-provider';
import { SignedXml } from 'xml-crypto';
import type { TestPlatform } from './platform.js';

/**
 * Identity providers on loopback for the SSO tests (test/access/sso.test.ts, the contract test):
 * a real OpenID provider (oidc-provider; its development login form stands in for the person typing
 * a password, and any login name is an account whose groups GROUPS gives), a browser that walks the
 * OIDC redirects with a cookie jar, and a SAML IdP: a 2048-bit RSA test key and certificate, with
 * assertions signed by xml-crypto as an IdP signs them (enveloped signature, exclusive C14N,
 * RSA-SHA256).
 */
export type Cookies = Map<string, string>;
interface OidcCtx {
  oidc: {
    provider: { Grant: new (o: { clientId: string; accountId: string }) => OidcGrant };
    client: { clientId: string };
    session: { accountId: string };
  };
}
interface OidcGrant {
  addOIDCScope(scope: string): void;
  save(): Promise<string>;
}
const Provider = OidcProvider as new (
  issuer: string,
  config: object,
) => { callback(): RequestListener; on(event: 'grant.error', fn: (ctx: unknown, err: { error_detail?: string }) => void): void };
const cookieHeader = (jar: Cookies) => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
function keep(jar: Cookies, res: Response) {
  for (const c of res.headers.getSetCookie()) {
    const [pair] = c.split(';');
    const at = pair!.indexOf('=');
    jar.set(pair!.slice(0, at), pair!.slice(at + 1));
  }
}
async function get(url: string, jar: Cookies, init: RequestInit = {}): Promise<Response> {
  const res = await fetch(url, { ...init, redirect: 'manual', headers: { ...(init.headers as object), cookie: cookieHeader(jar) } });
  keep(jar, res);
  return res;
}

export const GROUPS: Record<string, string[]> = { ana: ['staff', 'mail-admins'], dev: ['developers'], eve: ['marketing'] };

export async function startOidcProvider(t: TestContext, redirectUri: string) {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => {
    server.closeAllConnections();
    return new Promise<void>((r) => server.close(() => r()));
  });
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const provider = new Provider(issuer, {
    clients: [
      { client_id: 'postwarden', client_secret: 'oidc-test-client-secret', redirect_uris: [redirectUri], response_types: ['code'] },
    ],
    async findAccount(_ctx: unknown, id: string) {
      return {
        accountId: id,
        claims: async () => ({ sub: id, email: `${id}@corp.example`, name: id.toUpperCase(), groups: GROUPS[id] ?? [] }),
      };
    },
    claims: { openid: ['sub'], email: ['email'], profile: ['name'], groups: ['groups'] },
    scopes: ['openid', 'email', 'profile', 'groups'],
    pkce: { methods: ['S256'], required: () => true },
    cookies: { keys: ['oidc-test-cookie-key'] },
    features: { devInteractions: { enabled: true } },
    // No consent screen: the grant covers what Postwarden asks for.
    async loadExistingGrant(ctx: OidcCtx) {
      const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
      grant.addOIDCScope('openid email profile groups');
      await grant.save();
      return grant;
    },
  });
  server.on('request', provider.callback());
  // The provider tells the client only "invalid_grant"; its own reason is kept here for the tests.
  const grantErrors: string[] = [];
  provider.on('grant.error', (_ctx, err) => grantErrors.push(err.error_detail ?? ''));
  return { issuer, grantErrors };
}

/** A browser through the whole OIDC dance; answers the callback URL and the browser's cookies. */
export async function oidcToCallback(p: TestPlatform, login: string) {
  const jar: Cookies = new Map();
  const start = await get(`${p.url}/v1/auth/oidc/start?tenant=${p.tenantId}`, jar);
  assert.equal(start.status, 302);
  let at = start.headers.get('location')!;
  const auth = new URL(at);
  assert.equal(auth.searchParams.get('code_challenge_method'), 'S256');
  assert.ok(auth.searchParams.get('state') && auth.searchParams.get('nonce'));
  for (let i = 0; i < 10; i++) {
    const u = new URL(at);
    if (u.pathname === '/v1/auth/oidc/callback') return { callback: at, jar };
    const res = u.pathname.startsWith('/interaction/')
      ? await get(at, jar, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ prompt: 'login', login, password: 'anything' }).toString(),
        })
      : await get(at, jar);
    await res.arrayBuffer();
    at = new URL(res.headers.get('location')!, at).href;
  }
  throw new Error('the provider never sent the browser back');
}

export async function call(url: string, jar: Cookies, init: RequestInit = {}) {
  const res = await get(url, jar, init);
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null, res };
}

export async function rsaIdp() {
  x509.cryptoProvider.set(webcrypto as never);
  const alg = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', publicExponent: new Uint8Array([1, 0, 1]), modulusLength: 2048 };
  const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=Test IdP',
    notBefore: new Date(Date.now() - 86_400_000),
    notAfter: new Date(Date.now() + 86_400_000),
    signingAlgorithm: alg,
    keys: keys as never,
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', (keys as webcrypto.CryptoKeyPair).privateKey)).toString('base64');
  return {
    cert: cert.toString('pem'),
    key: `-----BEGIN PRIVATE KEY-----\n${pkcs8.match(/.{1,64}/g)!.join('\n')}\n-----END PRIVATE KEY-----\n`,
  };
}

export const IDP = 'https://idp.corp.example/saml';

/** What a SAML IdP posts back: a Response answering `requestId` with a signed assertion. */
export function samlResponse(o: { key: string; cert: string; requestId: string; acs: string; email: string; groups: string[] }) {
  const now = Date.now();
  const iso = (ms: number) => new Date(ms).toISOString();
  const id = () => `_${webcrypto.randomUUID().replaceAll('-', '')}`;
  const assertionId = id();
  const attr = (name: string, values: string[]) =>
    `<saml:Attribute Name="${name}">${values.map((v) => `<saml:AttributeValue>${v}</saml:AttributeValue>`).join('')}</saml:Attribute>`;
  const xml =
    `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="${id()}" Version="2.0" IssueInstant="${iso(now)}" Destination="${o.acs}" InResponseTo="${o.requestId}">` +
    `<saml:Issuer>${IDP}</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>` +
    `<saml:Assertion ID="${assertionId}" Version="2.0" IssueInstant="${iso(now)}"><saml:Issuer>${IDP}</saml:Issuer>` +
    `<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">${o.email}</saml:NameID>` +
    `<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData InResponseTo="${o.requestId}" NotOnOrAfter="${iso(now + 300_000)}" Recipient="${o.acs}"/></saml:SubjectConfirmation></saml:Subject>` +
    `<saml:Conditions NotBefore="${iso(now - 60_000)}" NotOnOrAfter="${iso(now + 300_000)}"><saml:AudienceRestriction><saml:Audience>${o.acs}</saml:Audience></saml:AudienceRestriction></saml:Conditions>` +
    `<saml:AuthnStatement AuthnInstant="${iso(now)}" SessionIndex="${id()}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>` +
    `<saml:AttributeStatement>${attr('email', [o.email])}${attr('groups', o.groups)}</saml:AttributeStatement></saml:Assertion></samlp:Response>`;
  const sig = new SignedXml({
    privateKey: o.key,
    publicCert: o.cert,
    signatureAlgorithm: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
    canonicalizationAlgorithm: 'http://www.w3.org/2001/10/xml-exc-c14n#',
  });
  sig.addReference({
    xpath: "//*[local-name(.)='Assertion']",
    transforms: ['http://www.w3.org/2000/09/xmldsig#enveloped-signature', 'http://www.w3.org/2001/10/xml-exc-c14n#'],
    digestAlgorithm: 'http://www.w3.org/2001/04/xmlenc#sha256',
  });
  // SAML Core §5.4.1: the signature follows the assertion's Issuer.
  sig.computeSignature(xml, { location: { reference: "//*[local-name(.)='Assertion']/*[local-name(.)='Issuer']", action: 'after' } });
  return { xml: sig.getSignedXml(), assertionId };
}

/** Starts a SAML sign-in as a browser would; answers the request ID and RelayState the IdP receives. */
export async function startSaml(p: TestPlatform) {
  const res = await fetch(`${p.url}/v1/auth/saml/start?tenant=${p.tenantId}`, { redirect: 'manual' });
  assert.equal(res.status, 302);
  const to = new URL(res.headers.get('location')!);
  const request = inflateRawSync(Buffer.from(to.searchParams.get('SAMLRequest')!, 'base64')).toString('utf8');
  return { to, requestId: /\sID="([^"]+)"/.exec(request)![1]!, relayState: to.searchParams.get('RelayState')! };
}

/** What the browser posts to the ACS on the IdP's behalf (HTTP-POST binding). */
export const postSamlResponse = (acs: string, xml: string, relayState: string) =>
  call(acs, new Map(), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ SAMLResponse: Buffer.from(xml).toString('base64'), RelayState: relayState }).toString(),
  });
