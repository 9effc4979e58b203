import { type TSchema, Type } from 'typebox';
import { errorCatalogue } from '../../core/index.js';

/**
 * The one error body of the API: RFC 9457 problem+json with our `code` (core/errors.ts) and
 * `errors[{ path, message }]`. Every route declares it, per status it can answer, through
 * `problems(…)`; the OpenAPI document carries it once as components/schemas/Problem (openapi.ts
 * replaces each copy by a reference). Extension members (retry_after, limit, domain, …) are
 * allowed: RFC 9457 §3.2.
 */
export const PROBLEM_TITLE = 'Problem';

const errorCodes = Object.keys(errorCatalogue) as (keyof typeof errorCatalogue)[];

export const FieldErrorJson = Type.Object(
  {
    path: Type.String({ description: 'JSON Pointer to the field (`/to/0/email`); `/query/x`, `/headers/x` outside the body.' }),
    message: Type.String({ description: 'What is wrong with it, for people.' }),
  },
  { additionalProperties: false },
);

export const ProblemJson = Type.Object(
  {
    type: Type.String({ description: 'urn:postwarden:error:<code>' }),
    title: Type.String({ description: 'The meaning of the code (docs/errors.md).' }),
    status: Type.Integer({ description: 'The HTTP status, repeated.' }),
    detail: Type.String({ description: 'What happened in this request, for people.' }),
    code: Type.Enum(errorCodes, { type: 'string', description: 'Stable error code; new codes may be added (docs/api-changelog.md).' }),
    instance: Type.Optional(Type.String({ description: 'The request path.' })),
    errors: Type.Optional(Type.Array(FieldErrorJson, { description: 'One entry per invalid field.' })),
    retry_after: Type.Optional(Type.Integer({ description: 'Seconds to wait before retrying (also in Retry-After).' })),
  },
  {
    title: PROBLEM_TITLE,
    additionalProperties: true,
    description: 'RFC 9457 problem details.',
    examples: [
      {
        type: 'urn:postwarden:error:VALIDATION_FAILED',
        title: errorCatalogue.VALIDATION_FAILED.meaning,
        status: 422,
        detail: 'The request has invalid fields.',
        code: 'VALIDATION_FAILED',
        instance: '/v1/messages',
        errors: [{ path: '/to/0/email', message: 'is not an email address' }],
      },
    ],
  },
);

/** What each error status means on this API; the description of the response in OpenAPI. */
const statusMeaning: Record<number, string> = {
  400: 'The body is not valid JSON, or the request is malformed (MALFORMED_REQUEST).',
  401: 'No valid API key or session (UNAUTHENTICATED), or a sign-in that needs its TOTP code (TOTP_REQUIRED).',
  403: 'The caller lacks the permission this operation needs, named in `permission` (FORBIDDEN); a session change without its CSRF token (CSRF_REJECTED).',
  404: 'The resource does not exist or is not visible to this tenant (NOT_FOUND).',
  409: 'A conflict: the resource already exists, or a request with this Idempotency-Key is still running (CONFLICT, IDEMPOTENCY_IN_PROGRESS).',
  413: 'The body is larger than this node accepts (MESSAGE_TOO_LARGE).',
  415: 'The body is not in a content type this operation reads (UNSUPPORTED_MEDIA_TYPE).',
  422: 'One or more fields are invalid, each listed in `errors` with its path (VALIDATION_FAILED and the codes of docs/errors.md).',
  429: "The tenant's rate or the platform's queue is exhausted (RATE_LIMITED, OVERLOADED), or too many failed sign-ins or unknown keys came from this address (TOO_MANY_ATTEMPTS); retry after Retry-After seconds.",
  500: 'An unexpected error; nothing was changed (INTERNAL).',
  503: 'The store is unreachable, or this node is reading as many bodies as it may (STORE_UNAVAILABLE, BODY_BUDGET_EXHAUSTED); retry after Retry-After seconds.',
};

/** Statuses whose answer says when to come back. */
const retryable = new Set([409, 429, 503]);

/**
 * The problem+json responses of a route, one per status. The schema object carries `description`
 * and `headers` (Retry-After) for @fastify/swagger; Fastify serialises the body by `content`.
 */
export function problems(...statuses: number[]): Record<number, TSchema> {
  const out: Record<number, TSchema> = {};
  for (const status of statuses) {
    const description = statusMeaning[status];
    if (!description) throw new Error(`no meaning written for status ${status}: add it to statusMeaning`);
    out[status] = {
      description,
      ...(retryable.has(status)
        ? {
            headers: {
              'retry-after': { type: 'integer', minimum: 0, description: 'Seconds to wait before retrying (RFC 9110 §10.2.3).' },
            },
          }
        : {}),
      content: { 'application/problem+json': { schema: ProblemJson } },
    } as unknown as TSchema;
  }
  return out;
}

/**
 * Every route behind a key: no key (401), a caller without the permission (403), a bug (500), the
 * store out of reach (503). The auth plugin adds 429 to each itself (an address refused for guessing).
 */
export const AUTHED = [401, 403, 500, 503];
/** A route reading a JSON body: not JSON (400), too big (413), not JSON at all (415), invalid fields (422). */
export const JSON_BODY = [400, 413, 415, 422];
/** A POST behind a key takes an Idempotency-Key: its first request still running (409), or used with another body (422). */
export const IDEMPOTENT = [409, 422];

/**
 * A JSON answer of a status that says when to come back (429, 503) in Retry-After: the compatible
 * endpoints (routes/compat-*.ts) answer their errors in the shape of the API they imitate.
 */
export function retrying(schema: TSchema, status: 429 | 503): TSchema {
  return {
    description: statusMeaning[status],
    headers: { 'retry-after': { type: 'integer', minimum: 0, description: 'Seconds to wait before retrying (RFC 9110 §10.2.3).' } },
    content: { 'application/json': { schema } },
  } as unknown as TSchema;
}

/**
 * A problem with extension members of its own (409 NOT_CANCELLABLE lists `recipients`): the shared
 * problem's fields plus `extra`, described and exemplified by the route.
 */
export function problemWith(
  status: number,
  extra: Record<string, TSchema>,
  opts: { description: string; example: Record<string, unknown> },
): Record<number, TSchema> {
  const base = problems(status)[status] as unknown as Record<string, unknown>;
  const schema = Type.Object(
    { ...ProblemJson.properties, ...extra },
    { additionalProperties: true, description: opts.description, examples: [opts.example] },
  );
  return {
    [status]: { ...base, description: opts.description, content: { 'application/problem+json': { schema } } } as unknown as TSchema,
  };
}

/**
 * A status answered with either a JSON body of its own or a problem (a batch whose every message
 * was refused answers 422 with the per-message results; a malformed batch, 422 problem+json).
 */
export function jsonOrProblem(status: number, schema: TSchema): Record<number, TSchema> {
  const problem = problems(status)[status] as unknown as { description: string; content: Record<string, { schema: TSchema }> };
  return {
    [status]: {
      description: `${(schema as { description?: string }).description ?? 'The result'} (application/json), or: ${problem.description}`,
      content: { 'application/json': { schema }, ...problem.content },
    } as unknown as TSchema,
  };
}
