/**
 * @postwarden/sdk: a thin, typed client of the Postwarden HTTP API with retries that are safe
 * (idempotency keys), typed errors, event paging and webhook verification. No runtime dependencies:
 * global fetch and Web Crypto only.
 */
export { Postwarden, type PostwardenOptions } from './client.js';
export {
  type FieldError,
  PostwardenApiError,
  PostwardenConnectionError,
  PostwardenSdkError,
  type Problem,
  WebhookVerificationError,
  type WebhookVerificationReason,
} from './errors.js';
export { type EventPage, type EventQuery, type EventType, eventTypes, type PostwardenEvent } from './events.js';
export { newIdempotencyKey, type RequestOptions, sdkVersion } from './http-client.js';
export type {
  AcceptedRecipient,
  Address,
  Addresses,
  Attachment,
  BatchItem,
  BatchResult,
  Message,
  MessageDetail,
  MessagePage,
  MessageState,
  Recipient,
  RecipientState,
  SendOptions,
  SendRequest,
  SendResult,
  SmtpReply,
  Stream,
  SuppressionWhy,
} from './messages.js';
export { isRetryable, nextRetryDelay, parseRetryAfter, type RetryPolicy } from './retry-policy.js';
export { type VerifyWebhookOptions, verifyWebhook, type WebhookHeaders } from './webhook-verifier.js';
export type {
  CreateWebhookParams,
  ReplayParams,
  ReplayResult,
  UpdateWebhookParams,
  WebhookAttempt,
  WebhookAttemptPage,
  WebhookEndpoint,
  WebhookEndpointWithSecret,
} from './webhooks.js';
