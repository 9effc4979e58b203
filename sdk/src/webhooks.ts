import type { EventType } from './events.js';
import type { HttpClient, RequestOptions } from './http-client.js';
import type { Stream } from './messages.js';

/**
 * Webhook endpoints of the tenant: /v1/webhooks and its sub-resources. An endpoint receives the
 * tenant's events (optionally only some types, streams or sending domains), each POST signed per
 * the Standard Webhooks specification with the endpoint's secret: verify them with verifyWebhook.
 *
 * Fields the server adds later arrive untyped through the index signature rather than being dropped.
 */
export interface WebhookEndpoint {
  id: string;
  url: string;
  /** The event types delivered; empty or absent means all. */
  events?: (EventType | (string & {}))[] | null;
  streams?: Stream[] | null;
  domains?: string[] | null;
  description?: string | null;
  created_at?: string;
  [extra: string]: unknown;
}

/** The answer to create and rotate-secret: the only times the secret (`whsec_…`) is shown. */
export interface WebhookEndpointWithSecret extends WebhookEndpoint {
  secret: string;
}

export interface CreateWebhookParams {
  /** Where events are POSTed; the server calls public addresses only (unless configured for labs). */
  url: string;
  events?: (EventType | (string & {}))[];
  streams?: Stream[];
  domains?: string[];
  description?: string;
}

export type UpdateWebhookParams = Partial<CreateWebhookParams> & Record<string, unknown>;

export interface WebhookAttempt {
  id?: string;
  event_id?: string;
  status?: number | null;
  latency_ms?: number | null;
  at?: string;
  [extra: string]: unknown;
}

export interface ReplayParams {
  /** An ISO time or an event cursor: the first event to send again. */
  from: string;
  /** An ISO time or an event cursor: the last event to send again. */
  to: string;
  types?: (EventType | (string & {}))[];
  message_id?: string;
}

export interface Listed<T> {
  data: T[];
  next_cursor?: string | null;
  [extra: string]: unknown;
}

export class Webhooks {
  readonly #http: HttpClient;

  constructor(http: HttpClient) {
    this.#http = http;
  }

  async list(options: RequestOptions = {}): Promise<Listed<WebhookEndpoint>> {
    return (await this.#http.request<Listed<WebhookEndpoint>>({ method: 'GET', path: '/v1/webhooks', options })).body;
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

  /** A new secret; the old one keeps signing alongside it for the server's grace period (24 h by default). */
  async rotateSecret(id: string, options: RequestOptions = {}): Promise<WebhookEndpointWithSecret> {
    return (await this.#http.request<WebhookEndpointWithSecret>({ method: 'POST', path: `${path(id)}/rotate-secret`, options })).body;
  }

  /** Asks the server to send a test event to the endpoint. */
  async test(id: string, body: Record<string, unknown> = {}, options: RequestOptions = {}): Promise<Record<string, unknown>> {
    return (await this.#http.request<Record<string, unknown>>({ method: 'POST', path: `${path(id)}/test`, body, options })).body;
  }

  /** Delivery attempts to the endpoint (status, latency, response excerpt), newest first. */
  async attempts(
    id: string,
    query: { after?: string; before?: string; limit?: number } = {},
    options: RequestOptions = {},
  ): Promise<Listed<WebhookAttempt>> {
    return (await this.#http.request<Listed<WebhookAttempt>>({ method: 'GET', path: `${path(id)}/attempts`, query, options })).body;
  }

  /** Sends the matching events again, with their original ids (receivers de-duplicate by `webhook-id`). */
  async replay(id: string, params: ReplayParams, options: RequestOptions = {}): Promise<Record<string, unknown>> {
    return (await this.#http.request<Record<string, unknown>>({ method: 'POST', path: `${path(id)}/replay`, body: params, options })).body;
  }
}

const path = (id: string) => `/v1/webhooks/${encodeURIComponent(id)}`;
