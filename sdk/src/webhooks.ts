import type { EventType } from './events.js';
import type { HttpClient, RequestOptions } from './http-client.js';
import type { Stream } from './messages.js';

/**
 * Webhook endpoints of the tenant: /v1/webhooks and its sub-resources. An endpoint receives the
 * tenant's events (optionally only some types, streams or sending domains), each POST signed per
 * the Standard Webhooks specification with the endpoint's secret: verify them with verifyWebhook.
 */
export interface WebhookEndpoint {
  /** `wh_…` */
  id: string;
  url: string;
  description: string;
  /** The event types delivered; null means all. */
  events: (EventType | (string & {}))[] | null;
  /** Only events of messages in these streams; null means all. */
  streams: Stream[] | null;
  /** Only events of messages sent from these domains (or about them: dns.*); null means all. */
  domains: string[] | null;
  /** Events per POST; above 1 the body is a JSON array and `webhook-id` names the batch. */
  batch_size: number;
  /** `disabled` after failing past the retry horizon (or by PATCH `{ disabled: true }`). */
  state: 'enabled' | 'disabled';
  disabled_reason: string | null;
  disabled_at: string | null;
  /** Until then the previous secret signs too (after rotate-secret). */
  previous_secret_expires_at: string | null;
  created_at: string;
  updated_at: string;
}

/** The answer to create and rotate-secret: the only times the secret (`whsec_…`) is shown. */
export interface WebhookEndpointWithSecret extends WebhookEndpoint {
  secret: string;
}

export interface CreateWebhookParams {
  /** Where events are POSTed: a public http(s) address (unless the server allows private targets). */
  url: string;
  /** Omitted or empty: every type. */
  events?: (EventType | (string & {}))[];
  streams?: Stream[];
  domains?: string[];
  description?: string;
  /** Events per POST, 1 (default) to 1000. */
  batch_size?: number;
}

/** Fields given replace the stored ones; an empty list clears a filter. `disabled: false` re-enables. */
export interface UpdateWebhookParams extends Partial<CreateWebhookParams> {
  disabled?: boolean;
}

/** One POST to the endpoint and what came of it. */
export interface WebhookAttempt {
  /** `wha_…` */
  id: string;
  /** The events this POST carried (several when batched). */
  event_ids: string[];
  /** Which try of these events this was (1 = first). */
  attempt: number;
  at: string;
  outcome: 'succeeded' | 'failed';
  /** The HTTP status; null when no answer came (refused, timeout). */
  status: number | null;
  latency_ms: number;
  error: string | null;
  /** The first kilobyte of the answer body. */
  response_excerpt: string | null;
}

export interface WebhookAttemptPage {
  data: WebhookAttempt[];
  /** Pass back as `before` for the next (older) page; null on the last page. */
  next_cursor: string | null;
}

export interface ReplayParams {
  /** An ISO time (inclusive) or an event cursor (exclusive). */
  from: string;
  /** An ISO time (exclusive) or an event cursor (inclusive). */
  to: string;
  types?: (EventType | (string & {}))[];
  /** Only the events of this message. */
  message_id?: string;
}

export interface ReplayResult {
  replay_id: string;
  /** Events queued for this endpoint. */
  queued: number;
}

export class Webhooks {
  readonly #http: HttpClient;

  constructor(http: HttpClient) {
    this.#http = http;
  }

  async list(options: RequestOptions = {}): Promise<{ data: WebhookEndpoint[] }> {
    return (await this.#http.request<{ data: WebhookEndpoint[] }>({ method: 'GET', path: '/v1/webhooks', options })).body;
  }

  /** Creates an endpoint. Keep the returned `secret`: it is not shown again (rotate it to get a new one). */
  async create(params: CreateWebhookParams, options: RequestOptions = {}): Promise<WebhookEndpointWithSecret> {
    return (await this.#http.request<WebhookEndpointWithSecret>({ method: 'POST', path: '/v1/webhooks', body: params, options })).body;
  }

  async get(id: string, options: RequestOptions = {}): Promise<WebhookEndpoint> {
    return (await this.#http.request<WebhookEndpoint>({ method: 'GET', path: path(id), options })).body;
  }

  async update(id: string, params: UpdateWebhookParams, options: RequestOptions = {}): Promise<WebhookEndpoint> {
    return (await this.#http.request<WebhookEndpoint>({ method: 'PATCH', path: path(id), body: params, options })).body;
  }

  async delete(id: string, options: RequestOptions = {}): Promise<void> {
    await this.#http.request<unknown>({ method: 'DELETE', path: path(id), options });
  }

  /** A new secret; the old one keeps signing alongside it for the server's grace period (`previous_secret_expires_at`, 24 h by default). */
  async rotateSecret(id: string, options: RequestOptions = {}): Promise<WebhookEndpointWithSecret> {
    return (await this.#http.request<WebhookEndpointWithSecret>({ method: 'POST', path: `${path(id)}/rotate-secret`, options })).body;
  }

  /** POSTs a signed `webhook.test` event to the endpoint now and answers with the attempt. */
  async test(id: string, options: RequestOptions = {}): Promise<WebhookAttempt> {
    return (await this.#http.request<WebhookAttempt>({ method: 'POST', path: `${path(id)}/test`, options })).body;
  }

  /** Delivery attempts to the endpoint (status, latency, response excerpt), newest first. */
  async attempts(id: string, query: { before?: string; limit?: number } = {}, options: RequestOptions = {}): Promise<WebhookAttemptPage> {
    return (await this.#http.request<WebhookAttemptPage>({ method: 'GET', path: `${path(id)}/attempts`, query, options })).body;
  }

  /** Queues the matching past events again, with their original ids (receivers de-duplicate by event id). */
  async replay(id: string, params: ReplayParams, options: RequestOptions = {}): Promise<ReplayResult> {
    return (await this.#http.request<ReplayResult>({ method: 'POST', path: `${path(id)}/replay`, body: params, options })).body;
  }
}

const path = (id: string) => `/v1/webhooks/${encodeURIComponent(id)}`;
