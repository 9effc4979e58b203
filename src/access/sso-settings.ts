import { X509Certificate } from 'node:crypto';
import { type Static, Type } from 'typebox';
import { Value } from 'typebox/value';
import { validationError } from '../core/index.js';

/**
 * A tenant's identity providers, as stored (sso_providers.settings) and as GET/PUT /v1/tenant/sso
 * speak them: one OIDC provider and one SAML IdP at most. What is secret (the OIDC client secret) is
 * kept apart, sealed, and never answered.
 *
 * Group → role mapping: the person's groups (the OIDC claim `groups_claim`, the SAML attribute
 * `groups_attribute`) are matched against `role_mapping` in order and the first entry whose group the
 * person has gives the role; none matching gives `default_role`, and without one the sign-in is
 * refused (SSO_REFUSED) and audited. The role is applied again at every sign-in, so the IdP stays the
 * source of truth. `provision_users` false: only users already linked to the identity may sign in.
 */
const Mapping = Type.Array(
  Type.Object(
    {
      group: Type.String({ minLength: 1, maxLength: 500, description: 'A group (or any value of the claim or attribute).' }),
      role: Type.String({
        minLength: 1,
        maxLength: 40,
        description: 'The role given to members: built-in or a custom role of the tenant.',
      }),
    },
    { additionalProperties: false },
  ),
  { maxItems: 100, description: 'Matched in order; the first group the person has gives the role.' },
);
const Common = {
  role_mapping: Mapping,
  default_role: Type.Optional(
    Type.String({ minLength: 1, maxLength: 40, description: 'The role of a person in no mapped group; absent: refuse them.' }),
  ),
  provision_users: Type.Boolean({ default: true, description: 'Create a user on first sign-in (just in time).' }),
};

export const OidcSettingsJson = Type.Object(
  {
    issuer: Type.String({ minLength: 1, maxLength: 500, description: 'The issuer URL; its /.well-known/openid-configuration is read.' }),
    client_id: Type.String({ minLength: 1, maxLength: 500 }),
    scopes: Type.Array(Type.String({ pattern: '^[\\x21-\\x7e]+$' }), { default: ['openid', 'email', 'profile'], maxItems: 20 }),
    groups_claim: Type.String({
      default: 'groups',
      minLength: 1,
      maxLength: 200,
      description: 'The ID token or userinfo claim listing the groups.',
    }),
    ...Common,
  },
  { additionalProperties: false },
);
export type OidcSettings = Static<typeof OidcSettingsJson>;

export const SamlSettingsJson = Type.Object(
  {
    idp_entity_id: Type.String({ minLength: 1, maxLength: 500, description: 'The Issuer of the IdP’s responses.' }),
    sso_url: Type.String({ minLength: 1, maxLength: 2000, description: 'The IdP’s SingleSignOnService URL (HTTP-Redirect binding).' }),
    certificate: Type.String({ minLength: 1, maxLength: 20_000, description: 'The IdP’s signing certificate, PEM.' }),
    sp_entity_id: Type.Optional(Type.String({ maxLength: 500, description: 'Our entity id (the Audience); default the ACS URL.' })),
    groups_attribute: Type.String({ default: 'groups', minLength: 1, maxLength: 500 }),
    email_attribute: Type.String({ default: 'email', minLength: 1, maxLength: 500, description: 'Default: the NameID when absent.' }),
    ...Common,
  },
  { additionalProperties: false },
);
export type SamlSettings = Static<typeof SamlSettingsJson>;

/** Checks and completes (defaults) settings from the API; throws VALIDATION_FAILED with paths. */
export function parseSettings<S extends typeof OidcSettingsJson | typeof SamlSettingsJson>(
  schema: S,
  input: unknown,
  path: string,
): Static<S> {
  const withDefaults = Value.Default(schema, structuredClone(input));
  const errors = [...Value.Errors(schema, withDefaults)].map((e) => ({ path: `${path}${e.instancePath}`, message: e.message }));
  if (errors.length) throw validationError(errors.slice(0, 20));
  const s = withDefaults as Static<S>;
  if ('issuer' in s && !isUrl(s.issuer)) throw validationError([{ path: `${path}/issuer`, message: 'must be an http(s) URL' }]);
  if ('sso_url' in s) {
    if (!isUrl(s.sso_url)) throw validationError([{ path: `${path}/sso_url`, message: 'must be an http(s) URL' }]);
    try {
      new X509Certificate(s.certificate);
    } catch {
      throw validationError([{ path: `${path}/certificate`, message: 'must be a PEM certificate' }]);
    }
  }
  return s;
}

function isUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return u.protocol === 'https:' || u.protocol === 'http:';
  } catch {
    return false;
  }
}

/** The role `groups` give under these settings, or undefined (refuse). */
export function roleFor(settings: { role_mapping: { group: string; role: string }[]; default_role?: string }, groups: readonly string[]) {
  const have = new Set(groups);
  return settings.role_mapping.find((m) => have.has(m.group))?.role ?? settings.default_role;
}

/** A claim or attribute as a list of strings (one value, several, or none). */
export function stringsOf(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string');
  return [];
}

/** Loopback issuers may speak plain HTTP (a provider on the same host, tests); others must use HTTPS. */
export function isLoopbackUrl(s: string): boolean {
  const host = new URL(s).hostname;
  return host === 'localhost' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
