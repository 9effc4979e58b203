import { type Static, Type } from 'typebox';
import type { IncidentReminderRow } from '../store/index.js';
import type { CompromiseResult } from './credential-compromise.js';
import type { Incident } from './incidents.js';
import type { ThirdParty } from './register.js';

/**
 * The JSON of a register entry, an incident and a credential-compromise answer: one TypeBox schema
 * and one builder each, used by /v1 (and its OpenAPI document) and the CLI's --json alike. Fields
 * are only ever added (docs/api.md, "Compatibility policy").
 */
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const Time = (description: string) => Type.String({ format: 'date-time', description });
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);
const Strings = (description: string, maxItems = 1000) => Type.Array(Type.String({ maxLength: 253 }), { maxItems, description });
/** A date (YYYY-MM-DD) or date-time in a request; answers always carry the ISO date-time. */
const DateIn = (description: string) => Type.String({ minLength: 10, maxLength: 40, description });

export const severities = ['low', 'medium', 'high', 'critical'] as const;
const Severity = Type.Enum(severities, { type: 'string' });

const Dpa = Type.Object(
  {
    signed_at: Time('When the data processing agreement was signed.'),
    reference: Type.String({ description: 'Where the signed DPA is kept.' }),
  },
  { additionalProperties: false },
);
const Certification = Type.Object(
  {
    name: Type.String({ description: 'SOC 2 Type II, ISO 27001, …' }),
    issuer: Type.String({ description: 'The auditor or certification body.' }),
    expires_at: Time('Past it, a certification-lapsed alert is raised.'),
  },
  { additionalProperties: false },
);
const identifierFields = {
  spf_includes: Strings('SPF include: domains of the service.'),
  dkim_domains: Strings('DKIM d= domains it signs with.'),
  dkim_selectors: Strings('DKIM selectors it signs with.'),
  ips: Strings('Source addresses or CIDR networks it sends from.'),
};
const Identifiers = Type.Object(identifierFields, { additionalProperties: false });

const thirdPartyExample = {
  id: 'tp_01JF8Z3Q4N0000000000000000',
  name: 'Newsletter service',
  status: 'active',
  owner: 'marketing',
  purpose: 'Sends the monthly newsletter',
  data_categories: ['email address', 'name'],
  dpa: { signed_at: '2026-03-01T00:00:00.000Z', reference: 'contracts/2026/newsletter-dpa.pdf' },
  certifications: [{ name: 'SOC 2 Type II', issuer: 'Example Audit LLP', expires_at: '2027-06-30T00:00:00.000Z' }],
  review_due_at: '2027-03-01T00:00:00.000Z',
  identifiers: {
    spf_includes: ['_spf.news.example.net'],
    dkim_domains: ['news.example.net'],
    dkim_selectors: [],
    ips: ['198.51.100.0/24'],
  },
  delegation_subdomain: 'news',
  source: 'manual',
  created_at: '2026-12-06T10:00:00.000Z',
  updated_at: '2026-12-06T10:00:00.000Z',
};

export const ThirdPartyJson = Type.Object(
  {
    id: Type.String({ description: 'Register entry id (tp_…).' }),
    name: Type.String(),
    status: Type.Enum(['active', 'proposed'], { type: 'string', description: 'proposed: made by seeding, to be reviewed.' }),
    owner: Nullable(Type.String({ description: 'Who owns the relationship.' })),
    purpose: Nullable(Type.String()),
    data_categories: Type.Array(Type.String(), { description: 'Personal data it processes.' }),
    dpa: Nullable(Dpa),
    certifications: Type.Array(Certification),
    review_due_at: Nullable(Time('Past it, a review-lapsed alert is raised.')),
    identifiers: Identifiers,
    delegation_subdomain: Nullable(
      Type.String({
        description:
          "The subdomain the service should send from (news, or news.example.com) in the DNS posture audit's third-party.on-apex proposal; null: a slug of the name.",
      }),
    ),
    source: Type.String({ description: 'Where the entry came from: manual, spf or dmarc (seeding).' }),
    created_at: Time('When it was added.'),
    updated_at: Time('When it last changed.'),
  },
  { additionalProperties: false, examples: [thirdPartyExample] },
);
export type ThirdPartyJson = Static<typeof ThirdPartyJson>;
export const thirdPartyJson = (e: ThirdParty): ThirdPartyJson => ({
  id: e.id,
  name: e.name,
  status: e.status,
  owner: e.owner,
  purpose: e.purpose,
  data_categories: e.data_categories,
  dpa: e.dpa,
  certifications: e.certifications,
  review_due_at: e.review_due_at,
  identifiers: e.identifiers,
  delegation_subdomain: e.delegation_subdomain,
  source: e.source,
  created_at: iso(e.createdAt)!,
  updated_at: iso(e.updatedAt)!,
});

const thirdPartyFields = {
  name: Type.String({ minLength: 1, maxLength: 200 }),
  status: Type.Optional(Type.Enum(['active', 'proposed'], { type: 'string' })),
  owner: Type.Optional(Nullable(Type.String({ maxLength: 200 }))),
  purpose: Type.Optional(Nullable(Type.String({ maxLength: 2000 }))),
  data_categories: Type.Optional(Strings('Personal data it processes.', 100)),
  dpa: Type.Optional(
    Nullable(
      Type.Object(
        { signed_at: DateIn('When it was signed.'), reference: Type.String({ minLength: 1, maxLength: 500 }) },
        { additionalProperties: false },
      ),
    ),
  ),
  certifications: Type.Optional(
    Type.Array(
      Type.Object(
        {
          name: Type.String({ minLength: 1, maxLength: 200 }),
          issuer: Type.String({ minLength: 1, maxLength: 200 }),
          expires_at: DateIn('When it expires.'),
        },
        { additionalProperties: false },
      ),
      { maxItems: 50 },
    ),
  ),
  review_due_at: Type.Optional(Nullable(DateIn('The next review.'))),
  identifiers: Type.Optional(Type.Partial(Identifiers)),
  delegation_subdomain: Type.Optional(
    Nullable(Type.String({ minLength: 1, maxLength: 253, description: 'A DNS label (news) or a name under the domain.' })),
  ),
};
const bodyExample = {
  name: 'Newsletter service',
  owner: 'marketing',
  purpose: 'Sends the monthly newsletter',
  data_categories: ['email address', 'name'],
  dpa: { signed_at: '2026-03-01', reference: 'contracts/2026/newsletter-dpa.pdf' },
  certifications: [{ name: 'SOC 2 Type II', issuer: 'Example Audit LLP', expires_at: '2027-06-30' }],
  review_due_at: '2027-03-01',
  identifiers: { ips: ['198.51.100.0/24'], dkim_domains: ['news.example.net'] },
};
export const ThirdPartyBody = Type.Object(thirdPartyFields, { additionalProperties: false, examples: [bodyExample] });
export const ThirdPartyPatch = Type.Object(
  { ...thirdPartyFields, name: Type.Optional(thirdPartyFields.name) },
  { additionalProperties: false, examples: [{ review_due_at: '2028-03-01', owner: 'legal' }] },
);

const Clock = Type.Object(
  {
    regime: Type.String({ description: 'gdpr, hipaa or a custom name.' }),
    hours: Type.Number({ description: 'From opening to the deadline.' }),
    remind_before_hours: Type.Array(Type.Number(), { description: 'Reminders this many hours before the deadline.' }),
    deadline_at: Time('When notification is due.'),
  },
  { additionalProperties: false },
);
const Links = Type.Object(
  {
    messages: Type.Array(Type.String(), { description: 'Message ids (msg_…).' }),
    events: Type.Array(Type.String(), { description: 'Event ids (evt_…).' }),
    dns_changes: Type.Array(Type.String(), { description: 'DNS changes (snapshot ids, record names).' }),
    keys: Type.Array(Type.String(), { description: 'API keys (key_…) or DKIM keys.' }),
    users: Type.Array(Type.String(), { description: 'People whose credentials it is about (usr_…).' }),
  },
  { additionalProperties: false },
);
const incidentProperties = {
  id: Type.String({ description: 'Incident id (inc_…).' }),
  kind: Type.String({ description: 'breach, misdelivery, credential_compromise, … (free text).' }),
  severity: Severity,
  title: Type.String(),
  description: Nullable(Type.String()),
  status: Type.Enum(['open', 'closed'], { type: 'string' }),
  opened_by: Type.String({ description: 'The user, key or alert that opened it.' }),
  opened_at: Time('When it was opened; the clocks run from here.'),
  updated_at: Time('The last timeline entry.'),
  links: Links,
  clocks: Type.Array(Clock),
  timeline: Type.Array(Type.Object({ at: Time('When.'), by: Type.String(), entry: Type.String() }, { additionalProperties: false })),
};
const incidentExample = {
  id: 'inc_01JF8Z3Q4N0000000000000000',
  kind: 'breach',
  severity: 'high',
  title: 'Payroll export sent to the wrong address',
  description: null,
  status: 'open',
  opened_by: 'usr_01JF8Z0000000000000000000',
  opened_at: '2026-12-06T10:00:00.000Z',
  updated_at: '2026-12-06T10:00:00.000Z',
  links: { messages: ['msg_01JF8Z2K7C0000000000000000'], events: [], dns_changes: [], keys: [], users: [] },
  clocks: [{ regime: 'gdpr', hours: 72, remind_before_hours: [24, 4], deadline_at: '2026-12-09T10:00:00.000Z' }],
  timeline: [{ at: '2026-12-06T10:00:00.000Z', by: 'usr_01JF8Z0000000000000000000', entry: 'opened (breach, high)' }],
};
export const IncidentJson = Type.Object(incidentProperties, { additionalProperties: false, examples: [incidentExample] });
export type IncidentJson = Static<typeof IncidentJson>;
export const incidentJson = (i: Incident): IncidentJson => ({
  id: i.id,
  kind: i.kind,
  severity: i.severity,
  title: i.title,
  description: i.description,
  status: i.status,
  opened_by: i.opened_by,
  opened_at: iso(i.openedAt)!,
  updated_at: iso(i.updatedAt)!,
  links: i.links,
  clocks: i.clocks,
  timeline: i.timeline,
});

const Reminder = Type.Object(
  {
    regime: Type.String(),
    kind: Type.Enum(['reminder', 'deadline'], { type: 'string' }),
    due_at: Time('When the incident.reminded event is (or was) appended.'),
    deadline_at: Time('The deadline it is about.'),
    sent_at: Nullable(Time('When it was announced; null: pending. Pending ones are cancelled when the incident closes.')),
  },
  { additionalProperties: false },
);
const reminderExample = {
  regime: 'gdpr',
  kind: 'reminder',
  due_at: '2026-12-08T10:00:00.000Z',
  deadline_at: '2026-12-09T10:00:00.000Z',
  sent_at: null,
};
export const IncidentDetailJson = Type.Object(
  { ...incidentProperties, reminders: Type.Array(Reminder, { description: 'Reminders and deadlines of its clocks, in due order.' }) },
  { additionalProperties: false, examples: [{ ...incidentExample, reminders: [reminderExample] }] },
);
export type IncidentDetailJson = Static<typeof IncidentDetailJson>;
export const incidentDetailJson = (i: Incident, reminders: IncidentReminderRow[]): IncidentDetailJson => ({
  ...incidentJson(i),
  reminders: reminders.map((r) => ({
    regime: r.regime,
    kind: r.kind,
    due_at: iso(r.dueAt)!,
    deadline_at: iso(r.deadlineAt)!,
    sent_at: iso(r.sentAt),
  })),
});

export const OpenIncidentBody = Type.Object(
  {
    kind: Type.String({ minLength: 1, maxLength: 100, description: 'breach, misdelivery, … (free text).' }),
    severity: Severity,
    title: Type.String({ minLength: 1, maxLength: 300 }),
    description: Type.Optional(Type.String({ maxLength: 10_000 })),
    clocks: Type.Optional(
      Type.Array(
        Type.Union([
          Type.String({ minLength: 1, maxLength: 50, description: 'A configured regime: gdpr, hipaa (compliance.clocks).' }),
          Type.Object(
            {
              regime: Type.String({ minLength: 1, maxLength: 50 }),
              hours: Type.Number({ exclusiveMinimum: 0, maximum: 100_000 }),
              remind_before_hours: Type.Optional(Type.Array(Type.Number({ exclusiveMinimum: 0 }), { maxItems: 20 })),
            },
            { additionalProperties: false },
          ),
        ]),
        { maxItems: 10, description: 'Notification clocks; none by default.' },
      ),
    ),
    links: Type.Optional(
      Type.Object(
        {
          messages: Type.Optional(Strings('Message ids (msg_…); each must be this tenant’s.')),
          events: Type.Optional(Strings('Event ids.')),
          dns_changes: Type.Optional(Strings('DNS changes.')),
          keys: Type.Optional(Strings('Key ids.')),
          users: Type.Optional(Strings('User ids.')),
        },
        { additionalProperties: false },
      ),
    ),
  },
  {
    additionalProperties: false,
    examples: [
      {
        kind: 'breach',
        severity: 'high',
        title: 'Payroll export sent to the wrong address',
        clocks: ['gdpr'],
        links: { messages: ['msg_01JF8Z2K7C0000000000000000'] },
      },
    ],
  },
);
export type OpenIncidentBody = Static<typeof OpenIncidentBody>;

/** The body's clocks as the incidents service takes them. */
export const clocksOf = (clocks: OpenIncidentBody['clocks']) =>
  (clocks ?? []).map((c) =>
    typeof c === 'string'
      ? c
      : { regime: c.regime, hours: c.hours, ...(c.remind_before_hours ? { remindBeforeHours: c.remind_before_hours } : {}) },
  );

export const CompromiseJson = Type.Object(
  {
    incident: IncidentDetailJson,
    target: Type.Object(
      {
        kind: Type.Enum(['api_key', 'user'], { type: 'string' }),
        id: Type.String(),
        label: Type.String(),
      },
      { additionalProperties: false },
    ),
    revoked: Type.Object(
      {
        api_key: Nullable(
          Type.Object(
            { id: Type.String(), already_revoked_at: Nullable(Time('Set when the key had been revoked before this request.')) },
            { additionalProperties: false },
          ),
        ),
        user: Nullable(
          Type.Object(
            { id: Type.String(), sessions_ended: Type.Integer({ description: 'Sessions ended; password and TOTP are cleared.' }) },
            { additionalProperties: false },
          ),
        ),
      },
      { additionalProperties: false },
    ),
    webhooks: Type.Array(
      Type.Object(
        {
          id: Type.String(),
          secret: Type.String({ description: 'whsec_…: the new secret, shown in this answer only.' }),
          previous_secret_expires_at: Time('Until then the previous secret signs too; now when rotated without grace.'),
        },
        { additionalProperties: false },
      ),
    ),
    sent: Type.Object(
      {
        since: Time('Start of the window.'),
        until: Time('End of the window (exclusive).'),
        messages: Type.Integer({ description: 'Messages accepted with the credential in the window.' }),
        recipients: Type.Integer(),
        message_ids: Type.Array(Type.String(), { description: 'Their ids (the first 1000), also linked to the incident.' }),
        truncated: Type.Boolean({ description: 'More messages were sent than are listed.' }),
      },
      { additionalProperties: false },
    ),
  },
  {
    additionalProperties: false,
    examples: [
      {
        incident: {
          ...incidentExample,
          kind: 'credential_compromise',
          title: 'Credential compromise: API key key_01JF8Z0000 (billing)',
          clocks: [],
          links: { ...incidentExample.links, keys: ['key_01JF8Z0000'] },
          reminders: [],
        },
        target: { kind: 'api_key', id: 'key_01JF8Z0000', label: 'API key key_01JF8Z0000 (billing)' },
        revoked: { api_key: { id: 'key_01JF8Z0000', already_revoked_at: null }, user: null },
        webhooks: [
          { id: 'wh_01JD3Q7M5X', secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', previous_secret_expires_at: '2026-12-06T10:00:00.000Z' },
        ],
        sent: {
          since: '2026-11-06T10:00:00.000Z',
          until: '2026-12-06T10:00:00.000Z',
          messages: 1,
          recipients: 1,
          message_ids: ['msg_01JF8Z2K7C0000000000000000'],
          truncated: false,
        },
      },
    ],
  },
);
export type CompromiseJson = Static<typeof CompromiseJson>;
export const compromiseJson = (r: CompromiseResult, reminders: IncidentReminderRow[]): CompromiseJson => ({
  incident: incidentDetailJson(r.incident, reminders),
  target: r.target,
  revoked: {
    api_key: r.revoked.apiKey ? { id: r.revoked.apiKey.id, already_revoked_at: iso(r.revoked.apiKey.alreadyRevokedAt) } : null,
    user: r.revoked.user ? { id: r.revoked.user.id, sessions_ended: r.revoked.user.sessions } : null,
  },
  webhooks: r.webhooks.map((w) => ({ id: w.id, secret: w.secret, previous_secret_expires_at: iso(w.previousExpiresAt)! })),
  sent: {
    since: iso(r.sent.since)!,
    until: iso(r.sent.until)!,
    messages: r.sent.messages,
    recipients: r.sent.recipients,
    message_ids: r.sent.messageIds,
    truncated: r.sent.truncated,
  },
});

/** A signed trace bundle (trace-bundle.ts) as the API answers it: the file's exact text, parsed here only to describe it. */
export const TraceBundleJson = Type.Object(
  {
    format: Type.Literal('postwarden-trace-bundle/1'),
    manifest: Type.Object(
      {
        format: Type.String(),
        created_at: Time('When the bundle was signed.'),
        tenant_id: Type.String(),
        query: Type.Record(Type.String(), Type.Unknown()),
        files: Type.Record(Type.String(), Type.Object({ sha256: Type.String(), bytes: Type.Integer() })),
        key_id: Type.String({ description: 'The platform key that signed it (ask_…).' }),
        public_key: Type.String({ description: 'Its public half, SPKI DER, base64.' }),
        public_key_sha256: Type.String({ description: 'Pin it with postwarden trace verify --key-sha256.' }),
      },
      { additionalProperties: false },
    ),
    files: Type.Record(Type.String(), Type.String(), { description: 'trace.json and trace.html, as text.' }),
    signature: Type.String({ description: 'Ed25519 over the canonical JSON of the manifest, base64.' }),
  },
  {
    additionalProperties: false,
    description: 'Save the body byte for byte (it ends with a newline) and check it with postwarden trace verify.',
    examples: [
      {
        format: 'postwarden-trace-bundle/1',
        manifest: {
          format: 'postwarden-trace-bundle/1',
          created_at: '2026-12-06T10:00:00.000Z',
          tenant_id: 'ten_01JD7XW0P4Z9',
          query: { message_id: 'msg_01JF8Z2K7C0000000000000000' },
          files: { 'trace.json': { sha256: '9f2c…', bytes: 2311 }, 'trace.html': { sha256: '41ab…', bytes: 2950 } },
          key_id: 'ask_01JD7XW0P4Z9',
          public_key: 'MCowBQYDK2VwAyEA…',
          public_key_sha256: 'c0ffee…',
        },
        files: { 'trace.json': '{…}', 'trace.html': '<!doctype html>…' },
        signature: 'q1w2e3…',
      },
    ],
  },
);
