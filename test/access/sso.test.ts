import assert from 'node:assert/strict';
import { mock, test } from 'node:test';
import { fakeClock } from '../support/clock.js';
import { startPlatform } from '../support/platform.js';
import { call, IDP, oidcToCallback, postSamlResponse, rsaIdp, samlResponse, startOidcProvider, startSaml } from '../support/sso-peers.js';

/**
 * Single sign-on end to end (issue 17, Done 2). OIDC against a real OpenID provider on loopback
 * (oidc-provider, its development login form standing in for the person typing a password); SAML
 * against an IdP built here: a 2048-bit RSA test key and certificate, assertions signed with
 * xml-crypto as an IdP signs them (enveloped signature, exclusive C14N, RSA-SHA256). One platform and
 * one provider serve every subtest.
 */
test('single sign-on with OpenID Connect and SAML, end to end on loopback', async (t) => {
  const clock = fakeClock(Date.now());
  // Failed answers count against the address like wrong passwords; this file fails on purpose a dozen times.
  const p = await startPlatform(t, { clock, config: { access: { login: { backoffAfter: 50, lockAfter: 100 } } } });
  const { issuer, grantErrors } = await startOidcProvider(t, `${p.url}/v1/auth/oidc/callback`);
  const idp = await rsaIdp();
  const acs = `${p.url}/v1/auth/saml/acs`;
  const mapping = [
    { group: 'mail-admins', role: 'admin' },
    { group: 'developers', role: 'developer' },
  ];
  const put = await p.request('PUT', '/v1/tenant/sso', {
    oidc: {
      issuer,
      client_id: 'postwarden',
      client_secret: 'oidc-test-client-secret',
      scopes: ['openid', 'email', 'profile', 'groups'],
      role_mapping: mapping,
    },
    saml: { idp_entity_id: IDP, sso_url: 'https://idp.corp.example/sso', certificate: idp.cert, role_mapping: mapping },
  });
  assert.equal(put.status, 200, JSON.stringify(put.body));
  assert.equal(put.body.oidc.client_secret, undefined, 'the client secret is never answered');
  type Entry = {
    actor: { kind: string; id: string; ip: string; user_agent: string | null };
    resource: { type: string; id: string | null };
    before: any;
    after: any;
  };
  const audit = async (action: string): Promise<Entry[]> => (await p.request('GET', `/v1/audit?action=${action}&limit=100`)).body.data;

  await t.test('OIDC: a mapped person is created with the mapped role and gets a session like a password login', async () => {
    const { callback, jar } = await oidcToCallback(p, 'ana');
    const signed = await call(callback, jar);
    assert.equal(signed.status, 200, JSON.stringify(signed.body));
    assert.equal(signed.body.user.email, 'ana@corp.example');
    assert.equal(signed.body.user.role, 'admin');
    assert.equal(signed.body.user.external_identity, true);
    assert.ok(signed.body.csrf_token);
    assert.match(signed.res.headers.getSetCookie().join('\n'), /pw_session=[^;]+;.*HttpOnly.*SameSite=Strict/);
    const me = await call(`${p.url}/v1/me`, jar);
    assert.equal(me.status, 200);
    assert.equal(me.body.kind, 'session');
    assert.ok(me.body.permissions.includes('users:write'));
    const [entry] = await audit('sso.signed_in');
    assert.equal(entry?.actor.id, signed.body.user.id);
    assert.deepEqual(entry!.after.provisioned, true);

    // The second sign-in links to the same user, no new one.
    const second = await oidcToCallback(p, 'ana');
    const ok = await call(second.callback, second.jar);
    assert.equal(ok.body.user.id, signed.body.user.id);
  });

  await t.test('OIDC: a wrong state starts no session', async () => {
    const { callback, jar } = await oidcToCallback(p, 'dev');
    const url = new URL(callback);
    url.searchParams.set('state', 'not-the-state-we-sent');
    const bad = await call(url.href, jar);
    assert.equal(bad.status, 401);
    assert.equal(bad.body.code, 'SSO_FAILED');
    assert.match(bad.body.detail, /state is unknown/);
    assert.equal(
      bad.res.headers.getSetCookie().some((c) => c.startsWith('pw_session=') && !c.startsWith('pw_session=;')),
      false,
    );
    // The real state, now without the browser's binding cookie: refused too (login CSRF).
    jar.delete('pw_sso');
    const stranger = await call(callback, jar);
    assert.equal(stranger.status, 401);
    assert.match(stranger.body.detail, /another browser/);
    assert.equal(await p.platform.store.users.findByEmail('dev@corp.example'), undefined);
  });

  await t.test('OIDC: an expired code is refused by the provider, and nobody is signed in', async () => {
    const { callback, jar } = await oidcToCallback(p, 'dev');
    // The provider's clock moves past the code's lifetime (60 s) before the browser comes back.
    mock.timers.enable({ apis: ['Date'], now: Date.now() + 120_000 });
    try {
      const late = await call(callback, jar);
      assert.equal(late.status, 401, JSON.stringify(late.body));
      assert.equal(late.body.code, 'SSO_FAILED');
      assert.match(late.body.detail, /invalid_grant/);
      assert.deepEqual(grantErrors, ['authorization code is expired']);
    } finally {
      mock.timers.reset();
    }
    assert.equal(await p.platform.store.users.findByEmail('dev@corp.example'), undefined);
    const failed = (await audit('sso.sign_in_failed')).at(-1);
    assert.match(failed!.after.reason, /invalid_grant/);
  });

  await t.test('OIDC: a person in no mapped group is refused with a clear error, audited, and not created', async () => {
    const { callback, jar } = await oidcToCallback(p, 'eve');
    const refused = await call(callback, jar);
    assert.equal(refused.status, 403);
    assert.equal(refused.body.code, 'SSO_REFUSED');
    assert.match(refused.body.detail, /None of your groups \(marketing\) is mapped to a role/);
    assert.equal(await p.platform.store.users.findByEmail('eve@corp.example'), undefined);
    const [entry] = await audit('sso.sign_in_refused');
    assert.deepEqual(entry!.after.groups, ['marketing']);
    assert.equal(entry!.actor.ip, '127.0.0.1');
  });

  const samlStart = () => startSaml(p);
  const postAcs = (xml: string, relayState: string) => postSamlResponse(acs, xml, relayState);

  await t.test('a disabled user is refused (401, no session) and the refusal is audited, for OIDC and SAML', async () => {
    const disable = async (email: string) => {
      const user = await p.platform.store.users.findByEmail(email);
      assert.ok(user, `${email} signed in before`);
      assert.equal((await p.request('PATCH', `/v1/users/${user.id}`, { disabled: true })).status, 200);
    };
    const noSession = (res: Response) =>
      assert.equal(
        res.headers.getSetCookie().some((c) => c.startsWith('pw_session=') && !c.startsWith('pw_session=;')),
        false,
        'no session cookie',
      );
    await disable('ana@corp.example');
    const { callback, jar } = await oidcToCallback(p, 'ana');
    const oidc = await call(callback, jar, { headers: { 'user-agent': 'sso-test/1' } });
    assert.equal(oidc.status, 401, JSON.stringify(oidc.body));
    assert.equal(oidc.body.code, 'UNAUTHENTICATED');
    noSession(oidc.res);
    const o = (await audit('sso.sign_in_refused')).at(-1)!;
    assert.deepEqual([o.resource.id, o.after.protocol, o.after.email, o.after.reason], ['oidc', 'oidc', 'ana@corp.example', 'disabled']);
    assert.deepEqual([o.actor.kind, o.actor.id, o.actor.ip, o.actor.user_agent], ['system', 'sso-oidc', '127.0.0.1', 'sso-test/1']);

    const signInDee = async () => {
      const { requestId, relayState } = await samlStart();
      return postAcs(samlResponse({ ...idp, requestId, acs, email: 'dee@corp.example', groups: ['developers'] }).xml, relayState);
    };
    assert.equal((await signInDee()).status, 200);
    await disable('dee@corp.example');
    const saml = await signInDee();
    assert.equal(saml.status, 401, JSON.stringify(saml.body));
    noSession(saml.res);
    const s = (await audit('sso.sign_in_refused')).at(-1)!;
    assert.deepEqual([s.actor.id, s.after.protocol, s.after.email, s.after.reason], ['sso-saml', 'saml', 'dee@corp.example', 'disabled']);
  });

  await t.test('SAML: a signed assertion signs the person in with the mapped role', async () => {
    const { to, requestId, relayState } = await samlStart();
    assert.equal(to.origin + to.pathname, 'https://idp.corp.example/sso', 'the AuthnRequest goes to the IdP by HTTP-Redirect');
    const { xml } = samlResponse({ ...idp, requestId, acs, email: 'sam@corp.example', groups: ['developers'] });
    const signed = await postAcs(xml, relayState);
    assert.equal(signed.status, 200, JSON.stringify(signed.body));
    assert.equal(signed.body.user.email, 'sam@corp.example');
    assert.equal(signed.body.user.role, 'developer');
    assert.ok(signed.body.csrf_token);
    const cookie = /^(pw_session=[^;]+)/.exec(signed.res.headers.getSetCookie().find((c) => c.startsWith('pw_session='))!)![1]!;
    const me = await fetch(`${p.url}/v1/me`, { headers: { cookie } });
    assert.equal(((await me.json()) as { user: { email: string } }).user.email, 'sam@corp.example');
  });

  await t.test('a role the IdP changed is applied with the sign-in and its entry in one transaction, or not at all', async () => {
    const signInAs = async (groups: string[]) => {
      const { requestId, relayState } = await samlStart();
      return postAcs(samlResponse({ ...idp, requestId, acs, email: 'sam@corp.example', groups }).xml, relayState);
    };
    const promoted = await signInAs(['mail-admins']);
    assert.equal(promoted.status, 200, JSON.stringify(promoted.body));
    assert.equal(promoted.body.user.role, 'admin');
    const entry = (await audit('sso.signed_in')).at(-1)!;
    assert.equal(entry.actor.id, promoted.body.user.id);
    assert.deepEqual([entry.before, entry.after.role, entry.after.provisioned], [{ role: 'developer' }, 'admin', false]);

    // The database refuses audit rows: the sign-in fails, and the role the IdP sent is not applied.
    const sqlite = await import('better-sqlite3');
    const raw = new sqlite.default(`${p.config.dataDir}/postwarden.db`);
    raw.exec("CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_entries BEGIN SELECT RAISE(ABORT, 'audit log refused'); END");
    try {
      const demoted = await signInAs(['developers']);
      assert.equal(demoted.status, 500);
      assert.equal((await p.platform.store.users.get(promoted.body.user.id))?.role, 'admin', 'the role change was rolled back');
      // Removing a provider is recorded with the removal too.
      assert.equal((await p.request('PUT', '/v1/tenant/sso', { oidc: null })).status, 500);
      assert.ok((await p.request('GET', '/v1/tenant/sso')).body.oidc, 'the OpenID provider is still there');
    } finally {
      raw.exec('DROP TRIGGER refuse_audit');
      raw.close();
    }
    const demoted = await signInAs(['developers']);
    assert.equal(demoted.body.user.role, 'developer');
    assert.deepEqual((await audit('sso.signed_in')).at(-1)!.before, { role: 'admin' });
  });

  await t.test('SAML: an assertion altered after signing is refused', async () => {
    const { requestId, relayState } = await samlStart();
    const { xml } = samlResponse({ ...idp, requestId, acs, email: 'sam@corp.example', groups: ['developers'] });
    const forged = xml.replace(
      '<saml:AttributeValue>developers</saml:AttributeValue>',
      '<saml:AttributeValue>mail-admins</saml:AttributeValue>',
    );
    assert.notEqual(forged, xml);
    const bad = await postAcs(forged, relayState);
    assert.equal(bad.status, 401);
    assert.equal(bad.body.code, 'SSO_FAILED');
    assert.match(bad.body.detail, /SAML response was refused/);
    // Signed by another key altogether.
    const other = await rsaIdp();
    const next = await samlStart();
    const stranger = await postAcs(
      samlResponse({ ...other, requestId: next.requestId, acs, email: 'sam@corp.example', groups: ['mail-admins'] }).xml,
      next.relayState,
    );
    assert.equal(stranger.status, 401);
  });

  await t.test('SAML: a replayed assertion is refused, even with a fresh sign-in to hide in', async () => {
    const { requestId, relayState } = await samlStart();
    const { xml, assertionId } = samlResponse({ ...idp, requestId, acs, email: 'rae@corp.example', groups: ['developers'] });
    assert.equal((await postAcs(xml, relayState)).status, 200);
    const same = await postAcs(xml, relayState);
    assert.equal(same.status, 401, 'the same post again: its RelayState is used up');
    const fresh = await samlStart();
    const replay = await postAcs(xml, fresh.relayState);
    assert.equal(replay.status, 401);
    assert.match(replay.body.detail, new RegExp(`assertion ${assertionId} was already used \\(a replay\\)`));
    const failures = (await audit('sso.sign_in_failed')).map((e) => e.after.reason as string);
    assert.ok(failures.some((r) => r.includes('replay')));
  });

  await t.test('an unknown tenant or one without a provider answers 404; a bad mapping is refused', async () => {
    assert.equal((await fetch(`${p.url}/v1/auth/saml/start?tenant=ten_nope`, { redirect: 'manual' })).status, 404);
    const bad = await p.request('PUT', '/v1/tenant/sso', {
      saml: { idp_entity_id: IDP, sso_url: 'x', certificate: 'nope', role_mapping: [] },
    });
    assert.equal(bad.status, 422);
    const owner = await p.request('PUT', '/v1/tenant/sso', {
      saml: {
        idp_entity_id: IDP,
        sso_url: 'https://idp.corp.example/sso',
        certificate: idp.cert,
        role_mapping: [{ group: 'x', role: 'owner' }],
      },
    });
    assert.equal(owner.status, 403, 'only an owner maps a group to owner');
  });
});
