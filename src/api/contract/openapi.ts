import { STATUS_CODES } from 'node:http';
import swagger, { type SwaggerTransformObject } from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { PROBLEM_TITLE, ProblemJson } from './problem-schema.js';

/**
 * The OpenAPI 3.1 document at /openapi.json, generated from the route schemas (never written by
 * hand), and its browsable copy at /docs. Each tag is one resource; its description says what the
 * resource is. The problem+json schema, inlined in every route's error responses so Fastify can
 * serialise them, becomes one component that every error response references.
 */
export const apiTags = [
  { name: 'messages', description: 'Send mail (one message or a batch) and read each message with its recipients and timeline.' },
  { name: 'audit', description: 'The tamper-evident audit log: who changed what, and who read message content (docs/governance.md).' },
  { name: 'events', description: 'The events spine in commit order (page by cursor) and per-minute delivery counts.' },
  { name: 'domains', description: 'Sending domains: the DNS records to publish, verification, DKIM keys and rotation, DMARC summaries.' },
  { name: 'keys', description: "API keys of the caller's tenant; a secret is shown once, when the key is created." },
  {
    name: 'auth',
    description: 'Sign in and out with email and password (a session cookie for the dashboard), who am I, two-factor (TOTP).',
  },
  { name: 'users', description: "People of the caller's tenant, their roles, and the tenant's custom roles (docs/access.md)." },
  { name: 'tenant', description: 'The tenant of the presented key: its settings and its outbound TLS policy.' },
  { name: 'sandbox', description: 'What sandbox delivery captured instead of sending.' },
  { name: 'posture', description: 'DNS posture: audits of any domain, evidence reports, history, the watch list, approved MX servers.' },
  { name: 'feedback', description: 'Upload bounces, complaints, DMARC and TLS-RPT reports that reached you another way.' },
  { name: 'suppressions', description: "The tenant's suppression list: add, check, remove, import, export, its history and policy." },
  { name: 'unsubscribe', description: 'RFC 8058 one-click unsubscribe; public, the signed token is the credential.' },
  { name: 'stats', description: 'Transport-security statistics of the tenant’s deliveries.' },
  {
    name: 'webhooks',
    description: 'Webhook endpoints: the events they receive, signing secrets, test sends, delivery attempts and replays.',
  },
  { name: 'templates', description: 'Message templates: a draft, immutable published versions, the current version, previews with data.' },
  { name: 'tracking', description: 'Open and click tracking: the tenant’s settings and the public pixel and redirect links.' },
  { name: 'experiments', description: 'A/B experiments between template versions, their stopping and their results.' },
  { name: 'lists', description: 'Recipient lists and their CSV imports, with the findings of each import.' },
  {
    name: 'reputation',
    description: 'The reputation ledger: per identity and mailbox provider, windows of outcomes, rates, baseline and state.',
  },
  {
    name: 'delivery',
    description: "Delivery's pacing and breakers per egress pool and destination site, and the operator's pause, resume and reset.",
  },
  {
    name: 'compliance',
    description:
      'Compliance operations: the third-party register, incidents with notification clocks, signed message trace bundles, the credential-compromise response (docs/compliance.md).',
  },
  { name: 'health', description: 'How the platform is doing: the overview, provider health, service-level objectives and error budgets.' },
  {
    name: 'compat',
    description: 'Drop-in endpoints speaking the Postmark, Resend and Amazon SES v2 send APIs, outside /v1 and their own shapes.',
  },
  {
    name: 'retention',
    description: 'Retention per data class, legal holds and erasure of an address with its receipt (docs/retention.md).',
  },
  {
    name: 'compliance',
    description:
      'Compliance evidence of the tenant: its records of processing per classification, stream and TLS evidence (docs/compliance.md).',
  },
];

const problemRef = { $ref: `#/components/schemas/${PROBLEM_TITLE}` };

type Operation = { summary?: string; responses?: Record<string, { description?: string }> };

/**
 * @fastify/swagger describes a response whose schema has no description as "Default Response";
 * such a success answer is described by its status and the operation's summary instead.
 */
function describeAnswers(paths: Record<string, Record<string, Operation>>): void {
  for (const item of Object.values(paths)) {
    for (const op of Object.values(item)) {
      for (const [status, response] of Object.entries(op.responses ?? {})) {
        if (response.description === 'Default Response') {
          response.description = `${STATUS_CODES[Number(status)] ?? status}: ${(op.summary ?? 'the answer').replace(/\.$/, '')}.`;
        }
      }
    }
  }
}

/** Every inlined copy of the problem schema (recognised by its title) becomes a reference. */
function referenceProblems(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(referenceProblems);
  if (!node || typeof node !== 'object') return node;
  const o = node as Record<string, unknown>;
  if (o.title === PROBLEM_TITLE && o.type === 'object') return problemRef;
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, referenceProblems(v)]));
}

export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Postwarden API',
        version: '1',
        description:
          'Send mail and read its story. Every path is under /v1; within /v1 fields and enum values are only ever added ' +
          '(docs/api.md, "Compatibility policy"; docs/api-changelog.md). Errors are RFC 9457 problem+json with `code` and ' +
          '`errors[{path, message}]`. POSTs that create take an Idempotency-Key.',
      },
      tags: apiTags,
      components: {
        securitySchemes: {
          bearer: {
            type: 'http',
            scheme: 'bearer',
            description:
              'An API key (pw_…) in `Authorization: Bearer pw_…`. Its permissions (or the legacy scopes send, read, admin) decide what it may do (docs/access.md).',
          },
          // The Postmark-compatible endpoints (routes/compat-postmark.ts) take our key in Postmark's header.
          postmarkServerToken: { type: 'apiKey', in: 'header', name: 'X-Postmark-Server-Token', description: 'API key (pw_…)' },
        },
      },
      security: [{ bearer: [] }],
    },
    transformObject: (doc) => {
      const spec = referenceProblems((doc as { openapiObject: object }).openapiObject) as Record<string, unknown> & {
        components: { schemas?: Record<string, unknown> };
      };
      spec.components.schemas = { ...spec.components.schemas, [PROBLEM_TITLE]: ProblemJson };
      describeAnswers((spec.paths ?? {}) as Record<string, Record<string, Operation>>);
      return spec as ReturnType<SwaggerTransformObject>;
    },
  });
  // swagger-ui's pages carry their own CSP (the API default loads nothing): scripts only from this
  // origin (its page has no inline script); inline style, which its components set.
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    staticCSP:
      "default-src 'self'; base-uri 'self'; img-src 'self' data:; object-src 'none'; frame-ancestors 'self'; " +
      "script-src 'self'; style-src 'self' 'unsafe-inline'",
  });
}
