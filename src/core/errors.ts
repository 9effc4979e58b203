/**
 * The one catalogue of error codes. An *error* is something we failed to do; findings and remote
 * outcomes are values, never these. Each edge maps a code in one place: HTTP (problem+json, the
 * `status` here), SMTP (`smtp` here, RFC 3463 enhanced codes) and the CLI (exit codes in cli/output).
 * Codes are stable once released; docs/errors.md lists them and a test keeps the two in step.
 */
export const errorCatalogue = {
  VALIDATION_FAILED: {
    status: 422,
    meaning: 'The request is well-formed but one or more fields are invalid.',
    smtp: { code: 550, enhanced: '5.6.0' },
  },
  MALFORMED_REQUEST: {
    status: 400,
    meaning: 'The request body could not be parsed (invalid JSON or wrong content type).',
    smtp: { code: 501, enhanced: '5.5.4' },
  },
  UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    meaning: 'The request body must be JSON (Content-Type: application/json).',
  },
  UNAUTHENTICATED: {
    status: 401,
    meaning: 'No valid API key was presented.',
    smtp: { code: 535, enhanced: '5.7.8' },
  },
  AUTH_REQUIRED: {
    status: 401,
    meaning: 'Authentication is required before this command.',
    smtp: { code: 530, enhanced: '5.7.0' },
  },
  ENCRYPTION_REQUIRED: {
    status: 403,
    meaning: 'Credentials may only be sent over an encrypted connection (STARTTLS first).',
    smtp: { code: 538, enhanced: '5.7.11' },
  },
  FORBIDDEN: {
    status: 403,
    meaning: 'The key or signed-in user lacks the permission this operation needs (named in the message and `permission`).',
    smtp: { code: 550, enhanced: '5.7.1' },
  },
  CSRF_REJECTED: {
    status: 403,
    meaning: 'A signed-in (cookie) request that changes something lacks the X-CSRF-Token header given at login.',
  },
  TOTP_REQUIRED: {
    status: 401,
    meaning: 'This account has two-factor sign-in: send the current code from the authenticator app as `totp`.',
  },
  SSO_FAILED: {
    status: 401,
    meaning:
      'A single sign-on answer could not be trusted: unknown or reused state, a code the identity provider refused (expired or used), a bad signature, or a replayed assertion. No session was started.',
  },
  SSO_REFUSED: {
    status: 403,
    meaning:
      "The identity provider vouched for the person, but the tenant's SSO settings give them no role (no mapped group) or do not create users on first sign-in.",
  },
  TOO_MANY_ATTEMPTS: {
    status: 429,
    meaning: 'Too many failed sign-ins or unknown API keys from this address or for this account; retry after Retry-After seconds.',
  },
  SENDER_DOMAIN_NOT_ALLOWED: {
    status: 422,
    meaning: "The From address's domain is not a sending domain of this tenant.",
    smtp: { code: 550, enhanced: '5.7.1' },
  },
  SENDER_MISALIGNED: {
    status: 422,
    meaning: "The message would fail DMARC alignment (RFC 7489 §3.1) and the tenant's alignment policy is reject.",
    smtp: { code: 550, enhanced: '5.7.1' },
  },
  CONTENT_UNREADABLE: {
    status: 410,
    meaning:
      "The stored content cannot be opened: the tenant's data key that sealed it was destroyed (crypto-shredding) or its key-encryption key is unavailable.",
  },
  NOT_FOUND: { status: 404, meaning: 'The resource does not exist or is not visible to this tenant.' },
  CONFLICT: { status: 409, meaning: 'The resource already exists.' },
  NOT_CANCELLABLE: {
    status: 409,
    meaning:
      'A recipient named in a cancel was already delivered, bounced or otherwise finished, or a delivery attempt holds it right now; nothing was cancelled. Each recipient and its state are listed.',
  },
  IDEMPOTENCY_CONFLICT: {
    status: 422,
    meaning: 'The Idempotency-Key was already used with a different request body.',
  },
  IDEMPOTENCY_IN_PROGRESS: {
    status: 409,
    meaning: 'A request with this Idempotency-Key is still being processed; retry shortly.',
  },
  MESSAGE_TOO_LARGE: {
    status: 413,
    meaning: "The message exceeds the tenant's size limit.",
    smtp: { code: 552, enhanced: '5.3.4' },
  },
  TOO_MANY_RECIPIENTS: {
    status: 422,
    meaning: 'The message has more recipients than allowed.',
    smtp: { code: 452, enhanced: '4.5.3' },
  },
  RATE_LIMITED: {
    status: 429,
    meaning: "The tenant's sending rate limit is exhausted; retry after the given delay.",
    smtp: { code: 451, enhanced: '4.7.1' },
  },
  QUOTA_EXCEEDED: {
    status: 429,
    meaning: "The tenant's daily or weekly sending cap is reached; the answer names the cap, the count and when it resets.",
    smtp: { code: 452, enhanced: '4.7.1' },
  },
  RECIPIENT_DISPOSABLE: {
    status: 422,
    meaning: 'A recipient is at a disposable-address domain and the tenant refuses those (recipient_risk.disposable: refuse).',
    smtp: { code: 550, enhanced: '5.7.1' },
  },
  OVERLOADED: {
    status: 429,
    meaning: 'The platform is shedding load (queue saturated); retry after the given delay.',
    smtp: { code: 421, enhanced: '4.3.2' },
  },
  SPOOL_FULL: {
    status: 503,
    meaning: 'Storage is full or unavailable; the message was not accepted.',
    smtp: { code: 452, enhanced: '4.3.1' },
  },
  STORE_UNAVAILABLE: {
    status: 503,
    meaning:
      'The database cannot be reached (restart, failover, lost connection); the request was not completed. Retry after the given delay (with the same Idempotency-Key).',
    smtp: { code: 451, enhanced: '4.3.0' },
  },
  BODY_BUDGET_EXHAUSTED: {
    status: 503,
    meaning: 'This node is already reading as many message bytes as its memory budget allows; retry after the given delay.',
    smtp: { code: 452, enhanced: '4.3.1' },
  },
  HEADERS_TOO_LARGE: {
    status: 431,
    meaning: 'The request line or headers are larger than the HTTP server reads; nothing was processed.',
  },
  REQUEST_TIMEOUT: {
    status: 408,
    meaning: 'The request did not arrive completely in time; nothing was processed.',
  },
  CONTENT_LIMIT_EXCEEDED: {
    status: 422,
    meaning:
      'The content exceeds a processing limit (MIME parts or depth, unpacked size, report records, parse time or memory); it would fail again on retry.',
    smtp: { code: 554, enhanced: '5.6.0' },
  },
  PREFLIGHT_REFUSED: {
    status: 422,
    meaning: "A preflight check the tenant's policy turns into a refusal tripped; the warning codes are listed (docs/content.md).",
    smtp: { code: 550, enhanced: '5.7.1' },
  },
  HOSTNAME_UNQUALIFIED: {
    status: 409,
    meaning: "The platform's host name has no dot, so DNS records built on it cannot work; the named setting must be set first.",
  },
  CONFIG_INVALID: { status: 500, meaning: 'The configuration is invalid; each bad key is listed.' },
  INTERNAL: {
    status: 500,
    meaning: 'An unexpected local error; nothing was accepted.',
    smtp: { code: 451, enhanced: '4.3.0' },
  },
  RESIDENCY_MISMATCH: {
    status: 403,
    meaning:
      "The tenant's data is pinned to another region than this node's (`residency.region`): it accepts, stores and delivers nothing for it. The message names both regions (`tenant_region`, `node_region`); send through a node of the tenant's region (docs/residency.md).",
    smtp: { code: 550, enhanced: '5.7.1' },
  },
  CLASSIFICATION_REFUSED: {
    status: 422,
    meaning:
      "The message's classification policy refuses it, or a recipient's domain is outside the domains it allows; the rule id is named (docs/classification.md).",
    smtp: { code: 550, enhanced: '5.7.1' },
  },
} as const satisfies Record<string, ErrorSpec>;

export interface ErrorSpec {
  status: number;
  meaning: string;
  smtp?: { code: number; enhanced: string };
}

export type ErrorCode = keyof typeof errorCatalogue;

/** One problem with one input field; `path` is a JSON Pointer-ish dotted path (`/to/0/email`). */
export interface FieldError {
  path: string;
  message: string;
}

export interface ErrorDetails {
  errors?: FieldError[];
  /** Seconds a client should wait before retrying (429/451). */
  retryAfter?: number;
  [key: string]: unknown;
}

export class PostwardenError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetails;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PostwardenError';
    this.code = code;
    this.details = details;
  }
}

export function isPostwardenError(e: unknown): e is PostwardenError {
  return e instanceof PostwardenError;
}

export function validationError(errors: FieldError[], message = 'The request has invalid fields.'): PostwardenError {
  return new PostwardenError('VALIDATION_FAILED', message, { errors });
}
