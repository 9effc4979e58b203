import { isRecord, PostwardenApiError, PostwardenConnectionError } from './errors.js';
import { isRetryable, nextRetryDelay, parseRetryAfter, type RetryPolicy } from './retry-policy.js';

/**
 * One request to the API, with its retries. Each attempt has its own timeout; a POST carries one
 * Idempotency-Key (the caller's, or a random one) on every attempt, so the server can tell a retry
 * from a new request. The caller's AbortSignal stops everything at once and is never retried.
 */
export const sdkVersion = '0.1.0';

export interface HttpClientOptions {
  apiKey: string;
  baseUrl: string;
  fetch: typeof fetch;
  timeoutMs: number;
  policy: RetryPolicy;
  /** Injected by tests of the timing; the real clock otherwise. */
  now?: () => number;
  random?: () => number;
  sleep?: (ms: number, signal: AbortSignal | undefined) => Promise<void>;
}

/** Per-call options every method accepts. */
export interface RequestOptions {
  /** The Idempotency-Key of a POST; a random one is made when absent. Pass your own (an order id) to make a send safe to repeat across processes. */
  idempotencyKey?: string;
  /** Cancels the request and its retries. */
  signal?: AbortSignal;
  /** Overrides the client's timeoutMs for each attempt of this call. */
  timeoutMs?: number;
  /** Overrides the client's retries for this call. */
  retries?: number;
}

export interface ApiAnswer<T> {
  status: number;
  headers: Headers;
  body: T;
}

type Query = Record<string, string | number | undefined>;

export interface HttpRequest {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  path: string;
  query?: Query;
  body?: unknown;
  /** Non-2xx statuses answered as results instead of errors (the batch send's all-rejected 422). */
  acceptStatus?: (status: number, body: unknown) => boolean;
  options?: RequestOptions;
}

export class HttpClient {
  readonly #o: Required<HttpClientOptions>;

  constructor(o: HttpClientOptions) {
    this.#o = { ...o, now: o.now ?? Date.now, random: o.random ?? Math.random, sleep: o.sleep ?? sleep };
  }

  async request<T>(r: HttpRequest): Promise<ApiAnswer<T>> {
    const o = this.#o;
    const options = r.options ?? {};
    const policy = options.retries === undefined ? o.policy : { ...o.policy, retries: options.retries };
    const idempotencyKey = r.method === 'POST' ? (options.idempotencyKey ?? newIdempotencyKey()) : undefined;
    const url = this.#url(r.path, r.query);
    const headers: Record<string, string> = {
      authorization: `Bearer ${o.apiKey}`,
      accept: 'application/json, application/problem+json',
      'user-agent': `postwarden-sdk-js/${sdkVersion}`,
    };
    if (r.body !== undefined) headers['content-type'] = 'application/json';
    if (idempotencyKey) headers['idempotency-key'] = idempotencyKey;
    const body = r.body === undefined ? undefined : JSON.stringify(r.body);
    const started = o.now();

    for (let attempt = 1; ; attempt++) {
      options.signal?.throwIfAborted();
      const once = await this.#attempt(url, { method: r.method, headers, body }, options);
      let retryAfterMs: number | undefined;
      let failure: () => Error;
      if (once.kind === 'answer') {
        const { response, parsed } = once;
        if (response.ok || r.acceptStatus?.(response.status, parsed)) {
          return { status: response.status, headers: response.headers, body: parsed as T };
        }
        retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), o.now());
        const code = isRecord(parsed) && typeof parsed.code === 'string' ? parsed.code : undefined;
        failure = () =>
          new PostwardenApiError({
            status: response.status,
            statusText: response.statusText,
            body: parsed,
            requestId: response.headers.get('x-request-id') ?? response.headers.get('request-id') ?? undefined,
            retryAfterSeconds: retryAfterMs === undefined ? undefined : Math.ceil(retryAfterMs / 1000),
            idempotencyKey,
            attempts: attempt,
          });
        if (!isRetryable({ kind: 'answer', status: response.status, code })) throw failure();
      } else {
        const { error, timedOut } = once;
        failure = () =>
          new PostwardenConnectionError(
            timedOut
              ? `${r.method} ${r.path}: no answer within ${options.timeoutMs ?? o.timeoutMs} ms (attempt ${attempt})`
              : `${r.method} ${r.path}: ${error instanceof Error ? error.message : String(error)} (attempt ${attempt})`,
            { cause: error, timedOut, idempotencyKey, attempts: attempt },
          );
      }
      const delay = nextRetryDelay({ policy, retry: attempt - 1, elapsedMs: o.now() - started, retryAfterMs, random: o.random });
      if (delay === undefined) throw failure();
      await o.sleep(delay, options.signal);
    }
  }

  /** One fetch, its body read under the same timeout. The caller's abort is rethrown, never retried. */
  async #attempt(
    url: string,
    init: { method: string; headers: Record<string, string>; body: string | undefined },
    options: RequestOptions,
  ): Promise<{ kind: 'answer'; response: Response; parsed: unknown } | { kind: 'network'; error: unknown; timedOut: boolean }> {
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new Error('timeout'));
    }, options.timeoutMs ?? this.#o.timeoutMs);
    const onAbort = () => controller.abort(options.signal?.reason);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const response = await this.#o.fetch(url, { ...init, signal: controller.signal });
      const text = await response.text();
      return { kind: 'answer', response, parsed: parseBody(text) };
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason;
      return { kind: 'network', error, timedOut };
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
    }
  }

  #url(path: string, query: Query | undefined): string {
    const u = new URL(this.#o.baseUrl + path);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) u.searchParams.set(k, String(v));
    return u.toString();
  }
}

/** A v4 UUID: 122 random bits, so two senders never pick the same key by chance. */
export function newIdempotencyKey(): string {
  return globalThis.crypto.randomUUID();
}

function parseBody(text: string): unknown {
  if (text === '') return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
