import { type ErrorCode, type ErrorSpec, errorCatalogue, isPostwardenError, PostwardenError } from '../core/index.js';

/**
 * The one map from errors to SMTP replies, for every SMTP listener we run. A reply is a basic code
 * (RFC 5321 §4.2) and a text that opens with its RFC 3463 enhanced code, `552` + `5.3.4 Message too
 * large`. The numbers come from the catalogue's `smtp` entry; the words come from `wireText`, a
 * Record over every ErrorCode, so adding a code to the catalogue does not type-check until someone
 * decides what an SMTP client is told about it.
 *
 * Wire text stays bland: it says what happened, never why internally (no SQL, paths or limits of
 * other tenants). The detail goes to logs. The exceptions are things the client itself sent and can
 * fix: a validation message (`the message has no From header`), its own size limit, its retry delay.
 */
export interface SmtpReply {
  /** RFC 5321 basic reply code. */
  responseCode: number;
  /** `x.y.z text`: the enhanced status code, a space, then human text. */
  message: string;
}

type WireText = string | ((e: PostwardenError) => string);

const LOCAL_ERROR = 'Local error in processing';

const wireText: Record<ErrorCode, WireText> = {
  VALIDATION_FAILED: (e) => `Message rejected: ${e.message}`,
  MALFORMED_REQUEST: 'Syntax error in parameters',
  UNSUPPORTED_MEDIA_TYPE: 'Unsupported content',
  UNAUTHENTICATED: 'Authentication credentials invalid',
  AUTH_REQUIRED: 'Authentication required',
  // RFC 4954 §6 gives this exact text for 538 5.7.11.
  ENCRYPTION_REQUIRED: 'Encryption required for requested authentication mechanism',
  FORBIDDEN: 'Not authorized',
  CSRF_REJECTED: 'Not authorized',
  TOTP_REQUIRED: 'Authentication credentials invalid',
  SSO_FAILED: 'Authentication credentials invalid',
  SSO_REFUSED: 'Authentication credentials invalid',
  TOO_MANY_ATTEMPTS: 'Too many failed attempts, try again later',
  SENDER_DOMAIN_NOT_ALLOWED: 'Sender domain not allowed for this account',
  SENDER_MISALIGNED: 'Sender identity not aligned (DMARC); message refused by policy',
  NOT_FOUND: 'Not found',
  CONTENT_UNREADABLE: LOCAL_ERROR,
  CONFLICT: 'Already exists',
  NOT_CANCELLABLE: 'Not cancellable',
  IDEMPOTENCY_CONFLICT: 'Request conflicts with an earlier one',
  IDEMPOTENCY_IN_PROGRESS: 'Request already in progress',
  MESSAGE_TOO_LARGE: (e) =>
    typeof e.details.limit === 'number' ? `Message too large: the limit is ${e.details.limit} bytes` : 'Message too large',
  TOO_MANY_RECIPIENTS: 'Too many recipients',
  RATE_LIMITED: (e) =>
    typeof e.details.retryAfter === 'number'
      ? `Rate limit exceeded, try again in ${Math.ceil(e.details.retryAfter)} seconds`
      : 'Rate limit exceeded, try again later',
  QUOTA_EXCEEDED: (e) =>
    typeof e.details.reset_at === 'string' ? `Sending quota reached, it resets at ${e.details.reset_at}` : 'Sending quota reached',
  RECIPIENT_DISPOSABLE: 'Recipient refused by the account policy on disposable addresses',
  OVERLOADED: 'Service busy, try again later',
  SPOOL_FULL: 'Insufficient system storage',
  STORE_UNAVAILABLE: 'Temporary local problem, try again later',
  BODY_BUDGET_EXHAUSTED: 'Insufficient system resources, try again later',
  HEADERS_TOO_LARGE: 'Syntax error, command line too long',
  REQUEST_TIMEOUT: 'Timeout',
  CONTENT_LIMIT_EXCEEDED: (e) =>
    `Content refused: ${typeof e.details.reason === 'string' ? e.details.reason : 'it exceeds a processing limit'}`,
  PREFLIGHT_REFUSED: "Message refused by the account's content policy",
  HOSTNAME_UNQUALIFIED: LOCAL_ERROR,
  CONFIG_INVALID: LOCAL_ERROR,
  INTERNAL: LOCAL_ERROR,
  // The client's own account setting, and the fix is on its side (another node): say both regions.
  RESIDENCY_MISMATCH: (e) =>
    `Message refused: the account's data is pinned to region ${String(e.details.tenant_region)}; this server is in ${
      e.details.node_region ? `region ${String(e.details.node_region)}` : 'no region'
    }`,
  CLASSIFICATION_REFUSED: "Message refused by the account's classification policy",
};

/** RFC 5321 §4.5.3.1.5: a reply line is at most 512 octets with its code and CRLF. */
const MAX_TEXT = 400;

function clean(text: string): string {
  const flat = text.replace(/[\x00-\x1f\x7f]+/g, ' ').trim();
  return flat.length > MAX_TEXT ? `${flat.slice(0, MAX_TEXT - 1)}…` : flat;
}

/** The catalogue's SMTP numbers for a code, or a fallback by HTTP status class. */
export function smtpCodesFor(code: ErrorCode): { code: number; enhanced: string } {
  const spec: ErrorSpec = errorCatalogue[code];
  if (spec.smtp) return spec.smtp;
  // A code never meant for SMTP: a client-side problem is permanent (RFC 3463 §3.8 "delivery not
  // authorized" is the nearest general refusal), a server-side one is transient so the client retries.
  return spec.status < 500 ? { code: 550, enhanced: '5.7.1' } : { code: 451, enhanced: '4.3.0' };
}

/** Maps anything thrown by a service to the reply an SMTP client gets. Unknown errors are 451 4.3.0. */
export function replyFor(error: unknown): SmtpReply {
  const code: ErrorCode = isPostwardenError(error) ? error.code : 'INTERNAL';
  const smtp = smtpCodesFor(code);
  const text = wireText[code];
  const words = typeof text === 'string' ? text : isPostwardenError(error) ? text(error) : LOCAL_ERROR;
  return { responseCode: smtp.code, message: `${smtp.enhanced} ${clean(words)}` };
}

/**
 * Replies that answer protocol events rather than catalogue errors: SMTP syntax problems the
 * catalogue has no code for, and success. RFC 3463 §3.2 (X.1.3 bad destination mailbox syntax, X.1.7
 * bad sender mailbox syntax), RFC 5321 §4.2.2 (250).
 */
export const protocolReplies = {
  badRecipientSyntax: { responseCode: 501, message: '5.1.3 Bad recipient address syntax' },
  badSenderSyntax: { responseCode: 501, message: '5.1.7 Bad sender address syntax' },
} as const satisfies Record<string, SmtpReply>;

/**
 * smtp-server answers some commands itself. Most of its replies already carry a fitting enhanced
 * code; these are the ones we replace so both listeners say the same thing in the same words:
 * its non-standard `538 Error: Must issue a STARTTLS command first` (RFC 4954 §6 defines 538 5.7.11)
 * and its address-syntax refusals, keyed by the context name smtp-server passes with them.
 */
export function builtinOverride(code: number, context: string | false | undefined): SmtpReply | undefined {
  if (code === 538) return replyFor(new PostwardenError('ENCRYPTION_REQUIRED', 'AUTH before STARTTLS'));
  if (context === 'MAILBOX_SYNTAX_ERROR') return protocolReplies.badRecipientSyntax;
  if (context === 'SENDER_SYNTAX_ERROR') return protocolReplies.badSenderSyntax;
  return undefined;
}

export function queuedReply(messageId: string): SmtpReply {
  return { responseCode: 250, message: `2.0.0 Ok: queued as ${messageId}` };
}

/** The error shape smtp-server turns into a reply: `err.responseCode` + `err.message`. */
export interface SmtpServerError extends Error {
  responseCode: number;
}

export function smtpError(reply: SmtpReply): SmtpServerError {
  return Object.assign(new Error(reply.message), { responseCode: reply.responseCode });
}

const ENHANCED_PREFIX = /^[245]\.\d{1,3}\.\d{1,3} /;

/** True when a reply text already opens with an enhanced code (ours), so nothing may prefix another. */
export function hasEnhancedCode(text: string): boolean {
  return ENHANCED_PREFIX.test(text);
}
