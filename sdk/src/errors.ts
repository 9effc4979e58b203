/**
 * The errors the SDK throws. Every one extends PostwardenSdkError, so `catch (e) { if (e instanceof
 * PostwardenSdkError) … }` catches all of them and nothing else.
 *
 * - PostwardenApiError: the API answered with an error (RFC 9457 problem+json, or any non-2xx
 *   answer from something in between, such as a proxy's 502 page).
 * - PostwardenConnectionError: no answer at all (refused, reset, DNS, timeout), after the retries.
 * - WebhookVerificationError: a webhook delivery that must not be trusted.
 */
export class PostwardenSdkError extends Error {
  override name = 'PostwardenSdkError';
}

/** One invalid field, named by its JSON path (`/to/0`, `/headers/idempotency-key`, `/query/mode`). */
export interface FieldError {
  path: string;
  message: string;
}

/** The problem+json body of an error answer, as the API writes it. */
export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  code?: string;
  instance?: string;
  errors?: FieldError[];
  retry_after?: number;
  [extra: string]: unknown;
}

export class PostwardenApiError extends PostwardenSdkError {
  override name = 'PostwardenApiError';
  /** The HTTP status of the last answer. */
  readonly status: number;
  /** The stable error code (`VALIDATION_FAILED`, `RATE_LIMITED`…), or `HTTP_<status>` when the answer was not problem+json. */
  readonly code: string;
  readonly title: string;
  readonly detail: string;
  /** Every invalid field with its JSON path; empty when the error is not about fields. */
  readonly errors: FieldError[];
  /** The server's request id (`x-request-id` / `request-id` header) when it sent one: quote it to support. */
  readonly requestId: string | undefined;
  /** Seconds the server asked to wait before trying again (Retry-After), when it said. */
  readonly retryAfterSeconds: number | undefined;
  /** The Idempotency-Key the request carried, so a caller can retry later with the same one. */
  readonly idempotencyKey: string | undefined;
  /** How many attempts were made (1 when the error was not retryable). */
  readonly attempts: number;
  /** The parsed body (problem+json) or its text when it was not JSON. */
  readonly body: unknown;

  constructor(a: {
    status: number;
    body: unknown;
    statusText: string;
    requestId: string | undefined;
    retryAfterSeconds: number | undefined;
    idempotencyKey: string | undefined;
    attempts: number;
  }) {
    const p: Problem = isRecord(a.body) ? (a.body as Problem) : {};
    const code = typeof p.code === 'string' ? p.code : `HTTP_${a.status}`;
    const title = typeof p.title === 'string' ? p.title : a.statusText || `HTTP ${a.status}`;
    const detail = typeof p.detail === 'string' ? p.detail : typeof a.body === 'string' ? a.body.slice(0, 500) : '';
    const errors = Array.isArray(p.errors) ? p.errors.filter(isFieldError) : [];
    const fields = errors.length ? ` (${errors.map((e) => `${e.path} ${e.message}`).join('; ')})` : '';
    super(`${a.status} ${code}: ${detail || title}${fields}`);
    this.status = a.status;
    this.code = code;
    this.title = title;
    this.detail = detail;
    this.errors = errors;
    this.requestId = a.requestId;
    this.retryAfterSeconds = a.retryAfterSeconds;
    this.idempotencyKey = a.idempotencyKey;
    this.attempts = a.attempts;
    this.body = a.body;
  }
}

export class PostwardenConnectionError extends PostwardenSdkError {
  override name = 'PostwardenConnectionError';
  /** True when the last attempt was cut by `timeoutMs` rather than by the network. */
  readonly timedOut: boolean;
  readonly idempotencyKey: string | undefined;
  readonly attempts: number;

  constructor(message: string, a: { cause: unknown; timedOut: boolean; idempotencyKey: string | undefined; attempts: number }) {
    super(message, { cause: a.cause });
    this.timedOut = a.timedOut;
    this.idempotencyKey = a.idempotencyKey;
    this.attempts = a.attempts;
  }
}

/**
 * Why a webhook delivery was refused. A receiver answers 400 (or 401) to all of them: a sender
 * following the Standard Webhooks specification retries, and an attacker learns nothing more.
 */
export type WebhookVerificationReason =
  | 'missing_header'
  | 'invalid_timestamp'
  | 'timestamp_too_old'
  | 'timestamp_too_new'
  | 'invalid_signature'
  | 'invalid_payload';

export class WebhookVerificationError extends PostwardenSdkError {
  override name = 'WebhookVerificationError';
  readonly reason: WebhookVerificationReason;

  constructor(reason: WebhookVerificationReason, message: string) {
    super(message);
    this.reason = reason;
  }
}

export function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function isFieldError(x: unknown): x is FieldError {
  return isRecord(x) && typeof x.path === 'string' && typeof x.message === 'string';
}
