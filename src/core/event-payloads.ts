import { type Static, type TSchema, Type } from 'typebox';

/**
 * The contract of the events spine: one entry per event type, holding when it happens, its schema
 * version and its one payload schema (the `data` of the event). Everything else is derived from this
 * table: the EventType union, the typed builder writers use (events.ts), the JSON Schema served at
 * GET /v1/events/schema and the type reference in docs/events.md (a test keeps the page in step).
 *
 * Adding a type is one entry here. The compatibility rule: fields are added, never renamed or
 * retyped; an enum value's meaning never changes (a new meaning is a new value); anything that would
 * break a consumer is a new type (or a new schema_version of the type, announced in docs/events.md).
 * Payloads allow properties they do not declare, so consumers must ignore fields they do not know.
 */

const str = (description: string) => Type.String({ description });
const int = (description: string) => Type.Integer({ description });
const bool = (description: string) => Type.Boolean({ description });
const nullable = <T extends TSchema>(t: T, description: string) => Type.Union([t, Type.Null()], { description });
const open = { additionalProperties: true } as const;

/** What every attempt-driven recipient event says about the attempt (present when there was one). */
const attemptFields = {
  email: str('The recipient address.'),
  attempt: int('Delivery attempts spent on this recipient so far, this one included.'),
  reply: Type.Optional(str('The SMTP reply that decided the outcome, as one line (code, enhanced code, text).')),
  code: Type.Optional(int('Basic SMTP reply code (RFC 5321 §4.2).')),
  enhanced: Type.Optional(nullable(Type.String(), 'Enhanced status code (RFC 3463), when the reply had one.')),
};

/** Evidence of the SMTP transaction; which fields appear depends on how far the attempt got. */
const transportEvidence = {
  site: Type.Optional(str('Destination site: the MX host set the recipient domain resolves to.')),
  stage: Type.Optional(str('Where a failed attempt stopped: dns, connect, greeting, ehlo, starttls, tls-policy…')),
  mx: Type.Optional(str('MX host name the session went to.')),
  ip: Type.Optional(str('IP address connected to.')),
  port: Type.Optional(int('TCP port connected to.')),
  reused: Type.Optional(bool('The session was reused from an earlier transaction.')),
  tls: Type.Optional(
    nullable(Type.Object({}, { additionalProperties: true }), 'TLS evidence of the session (see docs/transport-security.md).'),
  ),
  connect_ms: Type.Optional(int('Time to connect, in milliseconds.')),
  transaction_ms: Type.Optional(int('Time of the SMTP transaction, in milliseconds.')),
  dkim: Type.Optional(Type.Array(Type.String(), { description: 'DKIM signatures applied: `<algorithm> d=<domain> s=<selector>`.' })),
  reencoded_parts: Type.Optional(int('MIME parts converted to 7-bit for a receiver without 8BITMIME.')),
  body: Type.Optional(Type.Literal('8BITMIME', { description: 'Present when the body was sent declared as 8BITMIME.' })),
  sandbox: Type.Optional(bool('The sandbox captured the message instead of sending it.')),
  local_throttle: Type.Optional(
    Type.Union([Type.Literal('breaker'), Type.Literal('rate'), Type.Literal('paused'), Type.Literal('held'), Type.Literal('warmup')], {
      description:
        'Not attempted: the circuit breaker was open (breaker), the rate or pacing cap was spent (rate), pacing paused the pool at the site (paused: a rule or an override, see GET /v1/delivery/health), the reputation ledger holds the stream at the provider (held), or every pool of the lane spent its warmup cap for the day (warmup).',
    }),
  ),
  local_error: Type.Optional(str('A local fault that deferred the recipient.')),
  pool: Type.Optional(str('Egress pool the attempt left from (delivery.pools; `default` without pools).')),
  pool_rule: Type.Optional(
    str("Id of the classification policy that chose the pool (docs/classification.md); absent when the stream's lane did."),
  ),
  source_address: Type.Optional(
    nullable(Type.String(), 'Local source address the connection was made from; null when no connection was made.'),
  ),
};

/** The versioned classifier's verdict (rules/bounces.yaml), on every failure it classified. */
const classification = {
  category: str('Bounce category (bad_mailbox, mailbox_full, policy, reputation, …; see rules/bounces.yaml).'),
  hard: bool('A permanent condition of the address: suppression follows.'),
  rule: nullable(Type.String(), 'Id of the classifier rule that matched; null when none did.'),
  ruleset_version: str('Version of the ruleset that classified it.'),
};

const notSuppressed = {
  suppressed: Type.Optional(Type.Literal(false, { description: 'Present (false) when a hard outcome did not suppress the address.' })),
  why: Type.Optional(str('Why nothing was suppressed (for instance: not attributed by VERP).')),
};

export interface EventDefinition {
  /** Bumped only by a breaking change announced in docs/events.md; new optional fields do not bump it. */
  version: number;
  /** When the event is appended, one sentence. */
  when: string;
  payload: TSchema;
  /** A realistic payload, shown in docs/events.md and the JSON Schema (a test checks it validates). */
  example: Record<string, unknown>;
}

export const eventDefinitions = {
  'message.accepted': {
    version: 1,
    when: 'The message was durably stored; the 202 or 250 reply follows.',
    payload: Type.Object(
      {
        from: str('Envelope sender / From address.'),
        subject: str('Subject line.'),
        size: int('Size of the stored message in bytes.'),
        stream: str('Message stream: transactional, marketing or cold.'),
        source: Type.Union([Type.Literal('api'), Type.Literal('smtp')], { description: 'Which edge accepted it.' }),
        recipients: int('Number of recipients.'),
        message_id_header: str('The Message-ID header field.'),
        sandbox: bool('Captured by the sandbox instead of delivered.'),
        api_key: str('Id of the API key (or SMTP credential) that sent it; a user id (usr_…) for a dashboard session.'),
        client_ip: Type.Optional(
          str(
            'Address the client connected from (the HTTP request, or the SMTP submission session); absent for mail the platform submits itself. Personal data, kept as long as the event (docs/compliance.md).',
          ),
        ),
        identity: Type.Optional(Type.Object({}, { additionalProperties: true, description: 'The sending identity checked at accept.' })),
        send_at: Type.Optional(str('A scheduled send: when its recipients become due (ISO time).')),
        template: Type.Optional(
          Type.Object(
            { id: Type.String(), name: Type.String(), version: Type.Integer(), locale: nullable(Type.String(), 'Locale rendered.') },
            { additionalProperties: true, description: 'The template it was rendered from (docs/templates.md).' },
          ),
        ),
        experiment: Type.Optional(
          Type.Object(
            { id: Type.String(), variant: Type.String(), in_sample: Type.Boolean() },
            { additionalProperties: true, description: 'The A/B experiment and variant it was sent as (docs/experiments.md).' },
          ),
        ),
        tracking: Type.Optional(
          Type.Object(
            { opens: Type.Boolean(), clicks: Type.Boolean(), links: Type.Integer() },
            {
              additionalProperties: true,
              description: 'Open and click tracking applied, and how many links are tracked (docs/tracking.md).',
            },
          ),
        ),
        list_id: Type.Optional(str('The list import it was sent to (drip-fed; docs/lists.md).')),
        classification: Type.Optional(
          Type.Object(
            { classification: Type.String(), classifications: Type.Array(Type.String()), policies: Type.Array(Type.String()) },
            {
              additionalProperties: true,
              description:
                'The classification decision: what raised it (rule ids, never the matched data) and the policy rules that apply (docs/classification.md).',
            },
          ),
        ),
      },
      open,
    ),
    example: {
      from: 'billing@example.com',
      subject: 'Your invoice',
      size: 4210,
      stream: 'transactional',
      source: 'api',
      recipients: 1,
      message_id_header: '<msg_01JF8Z3Q4N@example.com>',
      sandbox: false,
      api_key: 'key_01JF8Z0000',
      client_ip: '198.51.100.23',
    },
  },
  'recipient.queued': {
    version: 1,
    when: 'A recipient entered the delivery queue.',
    payload: Type.Object(
      {
        email: str('The recipient address.'),
        kind: Type.Union([Type.Literal('to'), Type.Literal('cc'), Type.Literal('bcc'), Type.Literal('rcpt')], {
          description: 'How the recipient was named: To, Cc, Bcc header, or SMTP RCPT only.',
        }),
        send_at: Type.Optional(str('A scheduled send: when this recipient becomes due (ISO time).')),
      },
      open,
    ),
    example: { email: 'ada@example.org', kind: 'to' },
  },
  'recipient.suppressed': {
    version: 1,
    when: 'A recipient was on the suppression list and was never queued.',
    payload: Type.Object(
      {
        email: str('The recipient address.'),
        reason: str('Why the address is suppressed (hard_bounce, complaint, unsubscribe, manual…).'),
        scope: Type.Union([Type.Literal('global'), Type.Literal('tenant'), Type.Literal('identity')], {
          description: 'Scope of the entry.',
        }),
        domain: nullable(Type.String(), 'Sending domain of an identity-scoped entry.'),
        stream: nullable(Type.String(), 'Stream of an identity-scoped entry.'),
        since: str('When the entry was created (ISO time).'),
        source: str('What created the entry.'),
        suppression_id: str('Id of the suppression entry.'),
      },
      open,
    ),
    example: {
      email: 'ada@example.org',
      reason: 'hard_bounce',
      scope: 'tenant',
      domain: null,
      stream: null,
      since: '2026-11-02T08:00:00.000Z',
      source: 'evt_01JF7A',
      suppression_id: 'sup_01JF7A',
    },
  },
  'recipient.deferred': {
    version: 1,
    when: 'A temporary failure; another attempt is scheduled.',
    payload: Type.Object(
      {
        ...attemptFields,
        next_attempt_at: str('When the next attempt is due (ISO time).'),
        ...Type.Partial(Type.Object(classification)).properties,
        ...transportEvidence,
      },
      open,
    ),
    example: {
      email: 'ada@example.org',
      attempt: 1,
      reply: '451 4.7.1 Try again later',
      code: 451,
      enhanced: '4.7.1',
      next_attempt_at: '2026-12-06T10:05:00.000Z',
      category: 'transient',
      hard: false,
      rule: 'greylisting',
      ruleset_version: '2026.11.1',
      site: 'mx.example.org',
      mx: 'mx1.example.org',
      ip: '192.0.2.25',
    },
  },
  'recipient.delivered': {
    version: 1,
    when: 'The receiving server (or the sandbox) accepted the message for this recipient.',
    payload: Type.Object({ ...attemptFields, ...transportEvidence }, open),
    example: {
      email: 'ada@example.org',
      attempt: 1,
      reply: '250 2.0.0 OK queued as 4F2A',
      code: 250,
      enhanced: '2.0.0',
      site: 'mx.example.org',
      mx: 'mx1.example.org',
      ip: '192.0.2.25',
      port: 25,
      connect_ms: 31,
      transaction_ms: 120,
    },
  },
  'recipient.bounced': {
    version: 1,
    when: 'A permanent failure: the receiving server refused the recipient during the SMTP transaction (`async: false`, the recipient is now bounced), or a DSN arrived after it had accepted the message (`async: true`; the recipient state is not changed, see docs/feedback.md).',
    payload: Type.Object(
      {
        email: str('The recipient address.'),
        async: bool('false: refused during our SMTP transaction; true: reported later by a bounce message (DSN, RFC 3464).'),
        attempt: nullable(Type.Integer(), 'Delivery attempts spent, this one included; null for a DSN.'),
        reply: nullable(Type.String(), 'The SMTP reply as one line; for a DSN, its Diagnostic-Code reply when it had one.'),
        code: nullable(Type.Integer(), 'Basic SMTP reply code.'),
        enhanced: nullable(Type.String(), 'Enhanced status code (RFC 3463); for a DSN, its Status field when no reply had one.'),
        ...classification,
        remote_mta: nullable(Type.String(), 'The receiving host: the MX we talked to, or the DSN Remote-MTA.'),
        diagnostic: nullable(Type.String(), 'DSN Diagnostic-Code text; null for a synchronous bounce.'),
        dsn_action: nullable(Type.String(), 'DSN Action field (failed); null for a synchronous bounce.'),
        dsn_status: nullable(Type.String(), 'DSN Status field; null for a synchronous bounce.'),
        reporting_mta: nullable(Type.String(), 'DSN Reporting-MTA; null for a synchronous bounce.'),
        vendor: nullable(Type.String(), 'The bounce format recognised (postfix, exim, gmail…); null for a synchronous bounce.'),
        feedback_id: nullable(Type.String(), 'Id of the stored feedback document (GET /v1/feedback/{id}); null for a synchronous bounce.'),
        state: str('The recipient state after this event (bounced, or the state a DSN found it in).'),
        ...notSuppressed,
        ...transportEvidence,
      },
      open,
    ),
    example: {
      email: 'ada@example.org',
      async: false,
      attempt: 1,
      reply: '550 5.1.1 No such user',
      code: 550,
      enhanced: '5.1.1',
      category: 'bad_mailbox',
      hard: true,
      rule: 'no-such-user',
      ruleset_version: '2026.11.1',
      remote_mta: 'mx1.example.org',
      diagnostic: null,
      dsn_action: null,
      dsn_status: null,
      reporting_mta: null,
      vendor: null,
      feedback_id: null,
      state: 'bounced',
    },
  },
  'recipient.expired': {
    version: 1,
    when: 'Still undelivered after `delivery.maxAgeHours`.',
    payload: Type.Object(
      {
        email: str('The recipient address.'),
        attempt: int('Delivery attempts spent.'),
        reason: str('Why it expired, naming the last reply.'),
        reply: Type.Optional(str('The last reply, when the expiry came with an attempt.')),
        code: Type.Optional(int('Basic SMTP reply code of that reply.')),
        enhanced: Type.Optional(nullable(Type.String(), 'Its enhanced status code.')),
        last_reply: Type.Optional(
          Type.Object({}, { additionalProperties: true, description: 'The last stored SMTP reply (code, enhanced, text).' }),
        ),
        ...Type.Partial(Type.Object(classification)).properties,
        ...transportEvidence,
      },
      open,
    ),
    example: {
      email: 'ada@example.org',
      attempt: 12,
      reason: 'undelivered after 72 h; last reply: 451 4.7.1 Try again later',
    },
  },
  'recipient.failed': {
    version: 1,
    when: 'A local permanent failure (policy, configuration).',
    payload: Type.Object({ ...attemptFields, reason: Type.Optional(str('Why it failed.')), ...transportEvidence }, open),
    example: { email: 'ada@example.org', attempt: 1, reason: 'no sending identity for example.com' },
  },
  'dns.changed': {
    version: 1,
    when: 'A scheduled DNS posture audit saw records differ from the previous snapshot (message_id is null).',
    payload: Type.Object(
      {
        domain: str('The audited domain.'),
        snapshotId: str('The new posture snapshot.'),
        previousSnapshotId: nullable(Type.String(), 'The snapshot compared against.'),
        changes: Type.Array(
          Type.Object({ name: Type.String(), type: Type.String(), before: Type.Unknown(), after: Type.Unknown() }, open),
          { description: 'Each changed record set: `{ name, type, before, after }`.' },
        ),
      },
      open,
    ),
    example: {
      domain: 'example.com',
      snapshotId: 'dns_01JF8Z',
      previousSnapshotId: 'dns_01JF7Y',
      changes: [{ name: 'example.com', type: 'MX', before: ['10 mx1.example.com.'], after: ['10 mx.elsewhere.net.'] }],
    },
  },
  'dns.alert': {
    version: 1,
    when: 'One of those changes is risky: MX moved to an unapproved host, DMARC weakened, SPF broadened, DKIM key in use removed, MTA-STS downgraded or policy changed, TLSA no longer matching, certificate about to expire (docs/posture.md).',
    payload: Type.Object(
      {
        domain: str('The audited domain.'),
        snapshotId: str('The snapshot that raised it.'),
        kind: str('What changed (mx-unapproved, dmarc-weakened, …; docs/posture.md).'),
        severity: str('How bad it is.'),
        message: str('One sentence for people.'),
        before: Type.Unknown({ description: 'The value before.' }),
        after: Type.Unknown({ description: 'The value after.' }),
      },
      open,
    ),
    example: {
      domain: 'example.com',
      snapshotId: 'dns_01JF8Z',
      kind: 'mx-unapproved',
      severity: 'critical',
      message: 'MX now points at mx.elsewhere.net, which is not approved',
      before: ['10 mx1.example.com.'],
      after: ['10 mx.elsewhere.net.'],
    },
  },
  'recipient.complained': {
    version: 1,
    when: 'The recipient reported the message as spam (ARF, RFC 5965).',
    payload: Type.Object(
      {
        email: str('The recipient address.'),
        feedback_type: str('ARF Feedback-Type (abuse, fraud, virus, other…).'),
        user_agent: nullable(Type.String(), 'ARF User-Agent.'),
        source_ip: nullable(Type.String(), 'ARF Source-IP.'),
        reporter: nullable(Type.String(), 'Reporting MTA, or the sender of the report.'),
        arrival_date: nullable(Type.String(), 'ARF Arrival-Date.'),
        feedback_id: str('Id of the stored feedback document.'),
        ...notSuppressed,
      },
      open,
    ),
    example: {
      email: 'ada@example.org',
      feedback_type: 'abuse',
      user_agent: 'SomeGenerator/1.0',
      source_ip: '192.0.2.1',
      reporter: 'fbl.example.net',
      arrival_date: 'Thu, 8 Mar 2005 14:00:00 EDT',
      feedback_id: 'fbk_01JF8Z',
    },
  },
  'report.received': {
    version: 1,
    when: "A DMARC aggregate or failure report, or a TLS-RPT report, about one of the tenant's domains was stored.",
    payload: Type.Object(
      {
        kind: str('dmarc-aggregate, dmarc-failure or tls-rpt.'),
        feedback_id: str('Id of the stored feedback document.'),
        organization: nullable(Type.String(), 'Reporting organisations, comma-separated.'),
        domains: Type.Array(Type.String(), { description: 'Policy domains the report covers.' }),
        report_ids: Type.Optional(Type.Array(Type.String(), { description: 'Report ids (aggregate reports).' })),
        records: Type.Optional(int('Records in the report for this tenant (aggregate reports).')),
        new_records: Type.Optional(int('Records not stored before (aggregate reports).')),
      },
      open,
    ),
    example: {
      kind: 'dmarc-aggregate',
      feedback_id: 'fbk_01JF8Z',
      organization: 'google.com',
      domains: ['example.com'],
      report_ids: ['17627328001234'],
      records: 3,
      new_records: 3,
    },
  },
  'recipient.unsubscribed': {
    version: 1,
    when: 'The recipient used the one-click unsubscribe link (RFC 8058) of a marketing or cold message; the address is now suppressed for that domain and stream (docs/suppression.md).',
    payload: Type.Object(
      {
        email: str('The recipient address.'),
        domain: str('Sending domain the unsubscribe applies to.'),
        stream: str('Stream the unsubscribe applies to.'),
        suppression_id: str('Id of the suppression entry created.'),
        via: Type.Union([Type.Literal('one-click'), Type.Literal('page')], { description: 'RFC 8058 one-click POST, or the page.' }),
      },
      open,
    ),
    example: {
      email: 'ada@example.org',
      domain: 'example.com',
      stream: 'marketing',
      suppression_id: 'sup_01JF8Z',
      via: 'one-click',
    },
  },
  'recipient.cancelled': {
    version: 1,
    when: 'POST /v1/messages/{id}/cancel cancelled a queued or deferred recipient; it is never delivered afterwards (docs/sending.md).',
    payload: Type.Object(
      {
        email: str('The recipient address.'),
        previous_state: Type.Union([Type.Literal('queued'), Type.Literal('deferred')], { description: 'Its state before.' }),
        attempts: int('Delivery attempts it had spent.'),
        reason: nullable(Type.String(), 'The reason given with the request.'),
        api_key: str('Id of the API key that cancelled it.'),
      },
      open,
    ),
    example: { email: 'ada@example.org', previous_state: 'deferred', attempts: 2, reason: 'sent by mistake', api_key: 'key_01JF8Z0000' },
  },
  'message.updated': {
    version: 1,
    when: 'PATCH /v1/messages/{id} changed the tags or metadata of a sent message.',
    payload: Type.Object(
      {
        tags: Type.Array(Type.String(), { description: 'The tags after the change.' }),
        metadata: Type.Record(Type.String(), Type.String(), { description: 'The metadata after the change.' }),
        previous: Type.Object(
          { tags: Type.Array(Type.String()), metadata: Type.Record(Type.String(), Type.String()) },
          { additionalProperties: true, description: 'Tags and metadata before the change.' },
        ),
        api_key: str('Id of the API key that changed them.'),
      },
      open,
    ),
    example: {
      tags: ['receipt', 'q4'],
      metadata: { order: 'A-1001' },
      previous: { tags: ['receipt'], metadata: {} },
      api_key: 'key_01JF8Z0000',
    },
  },
  'webhook.disabled': {
    version: 1,
    when: 'A webhook endpoint kept failing past webhooks.retryHours and was disabled; its open deliveries were given up (messageId is null; docs/webhooks.md).',
    payload: Type.Object(
      {
        webhook_id: str('Id of the endpoint.'),
        url: str('Its URL.'),
        reason: str('Why, naming the last failure.'),
        disabled_at: str('When (ISO time).'),
      },
      open,
    ),
    example: {
      webhook_id: 'wh_01JF8Z',
      url: 'https://app.example.com/hooks',
      reason: 'HTTP 500 for 72 h',
      disabled_at: '2026-12-06T10:00:00.000Z',
    },
  },
  'recipient.opened': {
    version: 1,
    when: 'The open pixel of a tracked message was fetched; once per recipient within tracking.dedupeWindowMinutes (docs/tracking.md).',
    payload: Type.Object(
      {
        email: nullable(Type.String(), 'The recipient; null when the message has several recipients.'),
        user_agent: nullable(Type.String(), 'User-Agent of the request.'),
        ua_class: Type.Union(
          [Type.Literal('mail_client'), Type.Literal('browser'), Type.Literal('bot'), Type.Literal('apple_proxy'), Type.Literal('unknown')],
          { description: 'What kind of client fetched it.' },
        ),
        machine: bool('A machine, not a person: a privacy proxy, a bot, or a scanner clicking within seconds of delivery.'),
        machine_reason: Type.Union([Type.Literal('apple_proxy'), Type.Literal('bot'), Type.Literal('scanner'), Type.Null()], {
          description: 'Why machine is true; null when it is false.',
        }),
        seconds_after_delivery: Type.Optional(int('Seconds between the delivery and this request.')),
      },
      open,
    ),
    example: { email: 'ada@example.org', user_agent: 'Mozilla/5.0', ua_class: 'apple_proxy', machine: true, machine_reason: 'apple_proxy' },
  },
  'recipient.clicked': {
    version: 1,
    when: 'A tracked link was followed (the redirector answered 302); once per recipient and link within the window (docs/tracking.md).',
    payload: Type.Object(
      {
        email: nullable(Type.String(), 'The recipient; null when the message has several recipients.'),
        url: str('The link followed.'),
        user_agent: nullable(Type.String(), 'User-Agent of the request.'),
        ua_class: Type.Union(
          [Type.Literal('mail_client'), Type.Literal('browser'), Type.Literal('bot'), Type.Literal('apple_proxy'), Type.Literal('unknown')],
          { description: 'What kind of client fetched it.' },
        ),
        machine: bool('A machine, not a person: a privacy proxy, a bot, or a scanner clicking within seconds of delivery.'),
        machine_reason: Type.Union([Type.Literal('apple_proxy'), Type.Literal('bot'), Type.Literal('scanner'), Type.Null()], {
          description: 'Why machine is true; null when it is false.',
        }),
        seconds_after_delivery: Type.Optional(int('Seconds between the delivery and this request.')),
      },
      open,
    ),
    example: {
      email: 'ada@example.org',
      url: 'https://example.com/offer',
      user_agent: 'Mozilla/5.0',
      ua_class: 'browser',
      machine: false,
      machine_reason: null,
      seconds_after_delivery: 3600,
    },
  },
  'experiment.regressed': {
    version: 1,
    when: "A variant's bounce or complaint rate is significantly worse than the control's at a provider; once per variant, provider and metric (messageId is null; docs/experiments.md).",
    payload: Type.Object(
      {
        experiment_id: str('Id of the experiment.'),
        variant: str('The variant that regressed.'),
        control: str('The control variant.'),
        provider: str('Mailbox provider (rules/providers.yaml) or `all`.'),
        metric: Type.Union([Type.Literal('bounces'), Type.Literal('complaints')], { description: 'Which rate regressed.' }),
        rate: Type.Number({ description: "The variant's rate." }),
        control_rate: Type.Number({ description: "The control's rate." }),
        z: Type.Number({ description: 'Two-proportion z statistic.' }),
        p_value: Type.Number({ description: 'One-sided p-value.' }),
        suggestion: str('What to do.'),
        rollback: Type.Object({ variant: Type.String() }, { additionalProperties: true, description: 'The variant to roll back to.' }),
      },
      open,
    ),
    example: {
      experiment_id: 'exp_01JF8Z',
      variant: 'b',
      control: 'a',
      provider: 'gmail',
      metric: 'complaints',
      rate: 0.012,
      control_rate: 0.001,
      z: 3.4,
      p_value: 0.0003,
      suggestion: 'stop the experiment and send the control',
      rollback: { variant: 'a' },
    },
  },
  'quota.warning': {
    version: 1,
    when: "A tenant's accepted recipients crossed 80 % of its daily or weekly cap (once per period; messageId is null; docs/quotas.md).",
    payload: Type.Object(
      {
        period: Type.Union([Type.Literal('daily'), Type.Literal('weekly')], { description: 'Which cap.' }),
        cap: int('The cap (recipients per period).'),
        count: int('Recipients accepted in the period so far, this send included.'),
        percent: int('count ÷ cap, in whole percent.'),
        reset_at: str('When the period ends and the count starts again (ISO time).'),
      },
      open,
    ),
    example: { period: 'daily', cap: 10000, count: 8000, percent: 80, reset_at: '2026-12-07T00:00:00.000Z' },
  },
  'reputation.changed': {
    version: 1,
    when: "The reputation ledger moved an identity's state at a provider (healthy, watch, throttled, paused, warming); messageId is null (docs/reputation.md).",
    payload: Type.Object(
      {
        domain: str('Sending domain of the identity.'),
        selector: str('DKIM selector it signs with (`none` when it did not sign).'),
        pool: str('Egress pool (`default` when delivery names none).'),
        return_path: str('Return-path (bounce) domain.'),
        provider: str('Mailbox provider (rules/providers.yaml), or `other`.'),
        stream: str('Message stream: transactional, marketing or cold.'),
        previous_state: str('The state before.'),
        state: Type.Union(
          [Type.Literal('healthy'), Type.Literal('watch'), Type.Literal('throttled'), Type.Literal('paused'), Type.Literal('warming')],
          { description: 'The state now.' },
        ),
        rule: str('The ledger rule that decided it (complaint-rate-pause, throttling-rate, block-rate, …).'),
        reason: str('One sentence naming the numbers.'),
        metric: nullable(Type.String(), 'The rate or count that decided it.'),
        window: nullable(Type.String(), 'Its window: 1h or 24h.'),
        value: nullable(Type.Number(), 'Its value.'),
        threshold: nullable(Type.Number(), 'The line it crossed (config reputation.*).'),
        count: nullable(Type.Integer(), 'The numerator (complaints, blocks, …).'),
        denominator: nullable(Type.Integer(), 'The denominator (delivered, attempts, …).'),
        at: str('The time of the event that tipped it (ISO time).'),
        paused_until: nullable(
          Type.String(),
          'End of a hold set by a rules/pacing.yaml ledger rule (delivery pauses the stream at the provider until then); null: no hold.',
        ),
      },
      open,
    ),
    example: {
      domain: 'example.com',
      selector: 'pw2026',
      pool: 'cold',
      return_path: 'bounce.example.com',
      provider: 'gmail',
      stream: 'cold',
      previous_state: 'healthy',
      state: 'paused',
      rule: 'complaint-rate-pause',
      reason: 'complaint rate 0.40 % over 24h (2 of 500) is at or above 0.30 %',
      metric: 'complaint_rate',
      window: '24h',
      value: 0.004,
      threshold: 0.003,
      count: 2,
      denominator: 500,
      at: '2026-12-06T10:00:00.000Z',
      paused_until: null,
    },
  },
  'pacing.changed': {
    version: 1,
    when: 'Delivery changed its pace for an egress pool at a destination site: a rules/pacing.yaml rule capped or paused it, a recovery step or expiry loosened it, or an operator paused, resumed or reset it (message_id is null; docs/delivery.md "Pacing").',
    payload: Type.Object(
      {
        change: Type.Union(
          [
            Type.Literal('cap'),
            Type.Literal('step'),
            Type.Literal('recovered'),
            Type.Literal('pause'),
            Type.Literal('resume'),
            Type.Literal('flag'),
            Type.Literal('reset'),
          ],
          {
            description:
              'What changed: cap (a rule slowed it), step (a recovery step), recovered (back to full pace), pause, resume, flag (marked for review), reset (an override cleared it).',
          },
        ),
        site: str('Destination site (MX host set), or the site or provider an override named.'),
        provider: nullable(Type.String(), 'Mailbox provider of the site (rules/providers.yaml).'),
        pool: str('Egress pool; `*` for an override of every pool.'),
        rule: str('Id of the rules/pacing.yaml rule, or `override` for an operator action.'),
        ruleset_version: str('Version of rules/pacing.yaml.'),
        state: Type.Union([Type.Literal('healthy'), Type.Literal('throttled'), Type.Literal('paused')], {
          description: 'State of the pool at the site after the change.',
        }),
        per_minute: nullable(Type.Integer(), 'Rate cap now in force (messages per minute); null: no pacing cap.'),
        previous_per_minute: nullable(Type.Integer(), 'Rate cap before the change; null: none.'),
        concurrency: nullable(Type.Integer(), 'Connection cap now in force; null: the configured limit.'),
        previous_concurrency: nullable(Type.Integer(), 'Connection cap before the change.'),
        ceiling_per_minute: nullable(Type.Integer(), 'The rate recovery steps back up to.'),
        next_step_at: nullable(Type.String(), 'When the next recovery step is due, if quiet until then (ISO time).'),
        paused_until: nullable(Type.String(), 'End of a pause (ISO time); null: none, or until resumed.'),
        trigger: nullable(
          Type.Object({}, { additionalProperties: true }),
          'The numbers that triggered it: `{ kind: replies, count, window_seconds, reply }`, `{ kind: rate, metric, value, attempts, window_seconds }` or `{ kind: override, keys }`.',
        ),
        reason: str('Why, in one line.'),
        actor: nullable(Type.String(), 'The API key that made an override; null for a rule.'),
      },
      open,
    ),
    example: {
      change: 'cap',
      site: 'gmail-smtp-in.l.google.com',
      provider: 'gmail',
      pool: 'marketing',
      rule: 'gmail-rate-4.7.28',
      ruleset_version: '2026.12.1',
      state: 'throttled',
      per_minute: 30,
      previous_per_minute: null,
      concurrency: 2,
      previous_concurrency: null,
      ceiling_per_minute: 60,
      next_step_at: null,
      paused_until: null,
      trigger: {
        kind: 'replies',
        count: 3,
        window_seconds: 60,
        reply: '421 4.7.28 Our system has detected an unusual rate of unsolicited mail',
      },
      reason: 'gmail-rate-4.7.28: 3 matching replies in 60 s; capped at 30/min',
      actor: null,
    },
  },
  'warmup.changed': {
    version: 1,
    when: 'A warming egress pool started its schedule at a mailbox provider (its first admission there) or graduated from it (message_id is null; docs/reputation.md "Warmup").',
    payload: Type.Object(
      {
        change: Type.Union([Type.Literal('started'), Type.Literal('graduated')], { description: 'What changed.' }),
        pool: str('Egress pool (delivery.pools, `warmup: true`).'),
        provider: str('Mailbox provider (rules/providers.yaml), or `other`.'),
        ruleset_version: str('Version of rules/warmup.yaml.'),
        day: int('Day of the schedule (1 on the first day, UTC days).'),
        cap: nullable(Type.Integer(), "Today's cap (recipients) after the change; null once graduated."),
        delivered: nullable(Type.Integer(), 'Deliveries from the pool to the provider the ledger counted (graduation).'),
        complaint_rate: nullable(Type.Number(), '7-day complaints ÷ delivered at graduation.'),
        hard_bounce_rate: nullable(Type.Number(), '7-day hard bounces ÷ (delivered + bounced) at graduation.'),
        reason: str('Why, in one line, with the thresholds.'),
        started_at: str('When the warmup started (ISO time).'),
      },
      open,
    ),
    example: {
      change: 'graduated',
      pool: 'cold-new',
      provider: 'gmail',
      ruleset_version: '2026.12.1',
      day: 31,
      cap: null,
      delivered: 5210,
      complaint_rate: 0.0004,
      hard_bounce_rate: 0.006,
      reason:
        'graduated on day 31: 5210 deliveries (≥ 5000), complaint rate 0.04 % (≤ 0.10 %), hard-bounce rate 0.60 % (≤ 2.00 %) over 7 days',
      started_at: '2026-11-05T09:12:00.000Z',
    },
  },
  'recipient.held': {
    version: 1,
    when: "A delivery node saw the recipient due past residency.holdAfterSeconds and left it queued: its tenant's data is pinned to another region than the node's, and no node of that region has taken it yet. Once per recipient until a node of the region claims it (docs/residency.md).",
    payload: Type.Object(
      {
        email: str('The recipient address.'),
        state: Type.Union([Type.Literal('queued'), Type.Literal('deferred')], {
          description: 'Its state, unchanged: it stays in the queue.',
        }),
        tenant_region: str("The region the tenant's data is pinned to."),
        node_region: nullable(Type.String(), 'The region of the node that saw it; null: that node has none.'),
        due_since: str('When it became due (ISO time).'),
        reason: str("Why it is held, in one line (also the recipient's held_reason)."),
      },
      open,
    ),
    example: {
      email: 'ada@example.org',
      state: 'queued',
      tenant_region: 'eu',
      node_region: 'us',
      due_since: '2026-12-06T16:00:00.000Z',
      reason: "residency: the tenant's data is pinned to region eu; a node of region us left it for a node of eu",
    },
  },
  'compliance.alert': {
    version: 1,
    when: 'Compliance operations saw something to act on: a DMARC source or SPF include missing from the third-party register, a lapsed certification or review, or an anomaly on the spine crossing its rules/anomalies.yaml threshold (message_id is null; docs/compliance.md).',
    payload: Type.Object(
      {
        kind: str(
          'dmarc-new-source, spf-include-unregistered, certification-lapsed, review-lapsed, volume-spike, bounce-spike, complaint-spike, key-new-address, auth-failure-burst or dmarc-failures.',
        ),
        severity: str('info, warning or critical.'),
        message: str('One sentence for people, naming the subject and what it lacks or exceeds.'),
        subject: Type.Object(
          {},
          {
            additionalProperties: true,
            description: 'What the alert is about: `{ source_ip, domain }`, `{ third_party_id, certification }`, `{ key }`, …',
          },
        ),
        lacks: Type.Optional(str('What the register lacks: the entry or identifier that would make the source known.')),
        rule: nullable(Type.String(), 'Id of the rules/anomalies.yaml rule (anomalies); null for register alerts.'),
        ruleset_version: nullable(Type.String(), 'Version of rules/anomalies.yaml that decided it.'),
        value: Type.Optional(Type.Number({ description: 'The observed number (count, rate).' })),
        threshold: Type.Optional(Type.Number({ description: 'The line it crossed.' })),
        baseline: Type.Optional(Type.Number({ description: 'The trailing baseline it was compared with (volume spikes).' })),
        at: str('When it was observed (ISO time).'),
      },
      open,
    ),
    example: {
      kind: 'dmarc-new-source',
      severity: 'warning',
      message: '198.51.100.7 sent 120 messages as example.com (DKIM d=mailer.example.net) and no third-party register entry lists it',
      subject: { source_ip: '198.51.100.7', domain: 'example.com', dkim_domains: ['mailer.example.net'], feedback_id: 'fbk_01JF8Z' },
      lacks: 'a register entry whose ips include 198.51.100.7 (or whose dkim_domains include mailer.example.net)',
      rule: null,
      ruleset_version: null,
      value: 120,
      at: '2026-12-06T10:00:00.000Z',
    },
  },
  'incident.opened': {
    version: 1,
    when: 'An incident was opened by a person or an alert, with its notification clocks (message_id is null; docs/compliance.md).',
    payload: Type.Object(
      {
        incident_id: str('The incident (inc_…).'),
        kind: str('What happened: breach, credential-compromise, misdelivery, outage, other.'),
        severity: str('low, medium, high or critical.'),
        title: str('One line.'),
        opened_by: str('The actor (key or user id) or `alert:<event id>`.'),
        clocks: Type.Array(Type.Object({ regime: Type.String(), deadline_at: Type.String() }, open), {
          description: 'Each notification clock and its deadline (ISO time).',
        }),
      },
      open,
    ),
    example: {
      incident_id: 'inc_01JF8Z',
      kind: 'breach',
      severity: 'high',
      title: 'Mis-addressed payroll export',
      opened_by: 'usr_01JF80',
      clocks: [{ regime: 'gdpr', deadline_at: '2026-12-09T10:00:00.000Z' }],
    },
  },
  'incident.reminded': {
    version: 1,
    when: 'A notification clock of an open incident reached one of its reminder offsets before the deadline, or the deadline itself (kind `deadline`); message_id is null.',
    payload: Type.Object(
      {
        incident_id: str('The incident.'),
        regime: str('gdpr, hipaa or a custom clock name.'),
        kind: Type.Union([Type.Literal('reminder'), Type.Literal('deadline')], {
          description: 'A reminder before the deadline, or the deadline reached.',
        }),
        deadline_at: str('When notification is due (ISO time).'),
        remaining_seconds: int('Seconds left until the deadline at the reminder’s due time (0 for the deadline).'),
        title: str('The incident’s title.'),
      },
      open,
    ),
    example: {
      incident_id: 'inc_01JF8Z',
      regime: 'gdpr',
      kind: 'reminder',
      deadline_at: '2026-12-09T10:00:00.000Z',
      remaining_seconds: 86400,
      title: 'Mis-addressed payroll export',
    },
  },
  'self_assessment.regressed': {
    version: 1,
    when: 'A self-assessment run found something the previous run did not: a listener accepting TLS 1.0, a certificate close to expiry, an open relay… (message_id is null; platform-wide, tenant id empty; docs/self-assessment.md).',
    payload: Type.Object(
      {
        run_id: str('Id of the self-assessment run (sa_…).'),
        check: str(
          'Stable check id: tls-legacy-version, tls-weak-cipher, certificate-expiring, certificate-expired, certificate-untrusted, starttls-missing, open-relay, dependency-vulnerable, listener-unreachable.',
        ),
        listener: str('The listener (submission, mx, https) or `dependencies`.'),
        severity: str('critical, high, medium or low.'),
        title: str('One line for humans.'),
        observed_at: str('When the run observed it (ISO time).'),
      },
      open,
    ),
    example: {
      run_id: 'sa_01JF8Z3Q4N',
      check: 'tls-legacy-version',
      listener: 'submission',
      severity: 'high',
      title: 'submission accepts TLSv1',
      observed_at: '2026-12-06T16:00:00.000Z',
    },
  },
} as const satisfies Record<string, EventDefinition>;

export type EventType = keyof typeof eventDefinitions;
/** The `data` of an event of type T, as its writer builds it. */
export type EventPayload<T extends EventType> = Static<(typeof eventDefinitions)[T]['payload']>;
