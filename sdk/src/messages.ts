import type { Problem } from './errors.js';
import type { PostwardenEvent } from './events.js';
import type { HttpClient, RequestOptions } from './http-client.js';

/**
 * Sending and reading messages: POST /v1/messages, POST /v1/messages/batch, GET /v1/messages[/{id}].
 * The types spell the wire shapes (snake_case, ISO times) so what you read here is what the API
 * documents.
 */

/** `"ann@example.net"`, `"Ann <ann@example.net>"`, several separated by commas, or `{ email, name }`. */
export type Address = string | { email: string; name?: string };
export type Addresses = Address | Address[];
export type Stream = 'transactional' | 'marketing' | 'cold';

export interface Attachment {
  filename: string;
  /** The bytes, base64-encoded. */
  content: string;
  content_type?: string;
  /** Set it to reference the attachment inline from HTML (`cid:…`). */
  content_id?: string;
  encoding?: 'base64';
}

export interface SendRequest {
  from: Address;
  to?: Addresses;
  cc?: Addresses;
  bcc?: Addresses;
  reply_to?: Addresses;
  subject: string;
  text?: string;
  html?: string;
  headers?: Record<string, string>;
  attachments?: Attachment[];
  tags?: string[];
  metadata?: Record<string, string>;
  stream?: Stream;
}

export type RecipientState = 'queued' | 'in_flight' | 'deferred' | 'delivered' | 'bounced' | 'expired' | 'failed' | 'suppressed';

export interface SuppressionWhy {
  reason: string;
  scope: string;
  domain: string | null;
  stream: string | null;
  since: string | null;
  source: string;
}

export interface AcceptedRecipient {
  id: string;
  email: string;
  state: RecipientState;
  reason?: string;
  suppression?: SuppressionWhy;
}

/** The SMTP reply a recipient's last attempt got. */
export interface SmtpReply {
  code: number;
  /** `5.1.1` etc. when the reply carried one (RFC 2034). */
  enhanced?: string;
  text: string;
  /** The command the reply answered (`RCPT`, `DATA`, `CONNECT`…), when known. */
  command?: string;
}

export interface Recipient {
  id: string;
  email: string;
  kind: 'to' | 'cc' | 'bcc' | 'rcpt';
  state: RecipientState;
  attempts: number;
  next_attempt_at: string | null;
  last_reply: SmtpReply | null;
  updated_at: string | null;
  suppression?: SuppressionWhy;
}

/** The answer to a send. In sync mode, `status` says whether every recipient had an outcome in time. */
export type SendResult =
  | { id: string; status: 'queued'; stream: Stream; sandbox: boolean; recipients: AcceptedRecipient[] }
  | { id: string; status: 'completed' | 'pending'; stream: Stream; sandbox: boolean; recipients: Recipient[] };

export interface SendOptions extends RequestOptions {
  /** `queue` (default) answers once stored; `sync` waits (bounded) for every recipient's first outcome. */
  mode?: 'queue' | 'sync';
  /** How long sync mode may wait, in ms (100 up to the server's limit). */
  waitMs?: number;
}

/** Each message of a batch has its own result: accepted, or the problem that refused it (field paths prefixed `/messages/<i>`). */
export type BatchItem = Extract<SendResult, { status: 'queued' }> | { error: Problem };

export interface BatchResult {
  accepted: number;
  rejected: number;
  messages: BatchItem[];
}

export type MessageState = 'queued' | 'in_progress' | 'completed';

export interface Message {
  id: string;
  from: string;
  subject: string;
  stream: Stream;
  size: number;
  message_id_header: string;
  tags: string[];
  metadata: Record<string, string>;
  source: 'api' | 'smtp';
  sandbox: boolean;
  created_at: string;
  /** Return path and expected alignment fixed at accept time; null for older messages. */
  identity: Record<string, unknown> | null;
}

/** A message with its recipients and its ordered timeline (seq 1, 2, 3…). */
export interface MessageDetail extends Message {
  state: MessageState;
  recipients: Recipient[];
  events: PostwardenEvent[];
}

export interface MessagePage {
  data: Message[];
  /** Pass back as `before` for the next (older) page; null on the last page. */
  next_before: string | null;
}

export class Messages {
  readonly #http: HttpClient;

  constructor(http: HttpClient) {
    this.#http = http;
  }

  /** Sends one message. Retried safely: every attempt carries the same Idempotency-Key. */
  async send(message: SendRequest, options: SendOptions = {}): Promise<SendResult> {
    const res = await this.#http.request<SendResult>({
      method: 'POST',
      path: '/v1/messages',
      query: { mode: options.mode, wait_ms: options.waitMs },
      body: message,
      options,
    });
    return res.body;
  }

  /**
   * Sends up to 500 messages in one request. The answer lists a result per message, in order; one
   * bad message does not refuse the others. When every message is refused the API answers 422 with
   * the same shape, and that is returned too (not thrown): look at `rejected`.
   */
  async sendBatch(messages: SendRequest[], options: RequestOptions = {}): Promise<BatchResult> {
    const res = await this.#http.request<BatchResult>({
      method: 'POST',
      path: '/v1/messages/batch',
      body: { messages },
      acceptStatus: (status, body) => status === 422 && isBatchResult(body),
      options,
    });
    return res.body;
  }

  /** A message with its recipients and timeline. Throws PostwardenApiError 404 NOT_FOUND for an unknown id. */
  async get(id: string, options: RequestOptions = {}): Promise<MessageDetail> {
    return (await this.#http.request<MessageDetail>({ method: 'GET', path: `/v1/messages/${encodeURIComponent(id)}`, options })).body;
  }

  /** One page of messages, newest first. */
  async list(params: { before?: string; limit?: number } = {}, options: RequestOptions = {}): Promise<MessagePage> {
    return (await this.#http.request<MessagePage>({ method: 'GET', path: '/v1/messages', query: params, options })).body;
  }
}

function isBatchResult(x: unknown): x is BatchResult {
  return typeof x === 'object' && x !== null && Array.isArray((x as { messages?: unknown }).messages);
}
