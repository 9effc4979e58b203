import { Events } from './events.js';
import { HttpClient } from './http-client.js';
import { Messages } from './messages.js';
import { defaultRetryPolicy } from './retry-policy.js';
import { Webhooks } from './webhooks.js';

/**
 * The client of one Postwarden API key. A multi-tenant application makes one client per tenant key;
 * a client holds no connection of its own (fetch pools them), so making many is cheap.
 */
export interface PostwardenOptions {
  /** An API key (`pw_…`) of the tenant the client acts for. */
  apiKey: string;
  /** Where the API listens, e.g. `https://mail.example.com` (a path prefix is kept). */
  baseUrl: string;
  /** A fetch implementation (a proxy-aware one, or a test double); the global fetch by default. */
  fetch?: typeof fetch;
  /** Retries after the first attempt on 408/429/5xx/network errors (default 3; 0 turns them off). */
  retries?: number;
  /** No retry starts later than this many ms after the first attempt (default 60 000). */
  retryWindowMs?: number;
  /** Each attempt's limit, headers and body included (default 30 000 ms). */
  timeoutMs?: number;
}

export class Postwarden {
  readonly messages: Messages;
  readonly events: Events;
  readonly webhooks: Webhooks;

  constructor(options: PostwardenOptions) {
    if (typeof options?.apiKey !== 'string' || options.apiKey === '') throw new TypeError('Postwarden: apiKey is required');
    let base: URL;
    try {
      base = new URL(options.baseUrl);
    } catch {
      throw new TypeError(`Postwarden: baseUrl must be an absolute URL, got ${String(options.baseUrl)}`);
    }
    if (base.protocol !== 'https:' && base.protocol !== 'http:') throw new TypeError('Postwarden: baseUrl must be http(s)');
    const retries = options.retries ?? defaultRetryPolicy.retries;
    if (!Number.isInteger(retries) || retries < 0) throw new TypeError('Postwarden: retries must be an integer ≥ 0');
    const fetchImpl = options.fetch ?? globalThis.fetch;
    if (typeof fetchImpl !== 'function') throw new TypeError('Postwarden: no fetch available; pass one as options.fetch');
    const http = new HttpClient({
      apiKey: options.apiKey,
      baseUrl: base.toString().replace(/\/+$/, ''),
      // Called unbound: some fetch implementations refuse a `this` other than globalThis.
      fetch: (input, init) => fetchImpl(input, init),
      timeoutMs: options.timeoutMs ?? 30_000,
      policy: { ...defaultRetryPolicy, retries, windowMs: options.retryWindowMs ?? defaultRetryPolicy.windowMs },
    });
    this.messages = new Messages(http);
    this.events = new Events(http);
    this.webhooks = new Webhooks(http);
  }
}
