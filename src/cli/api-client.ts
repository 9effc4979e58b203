import { CliError, ProblemError } from './output.js';

/**
 * A minimal client for the /v1 API over global fetch. Problem+json answers become ProblemError
 * (printed with their field paths); a server that cannot be reached or answers something else
 * becomes a CliError with its own exit code. Every request is bounded by a timeout.
 */
export interface ApiRequest {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  path: string;
  query?: Record<string, string | undefined>;
  body?: unknown;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

export interface ApiClient {
  readonly baseUrl: string;
  request<T = unknown>(req: ApiRequest): Promise<{ status: number; body: T }>;
}

const defaultTimeoutMs = 30_000;

export function createApiClient(opts: { baseUrl: string; apiKey: string; fetch: typeof fetch }): ApiClient {
  const baseUrl = opts.baseUrl.replace(/\/+$/, '');
  return {
    baseUrl,
    async request<T>(req: ApiRequest) {
      const url = new URL(baseUrl + req.path);
      for (const [k, v] of Object.entries(req.query ?? {})) if (v !== undefined) url.searchParams.set(k, v);
      const timeoutMs = req.timeoutMs ?? defaultTimeoutMs;
      let res: Response;
      let text: string;
      try {
        res = await opts.fetch(url, {
          method: req.method,
          headers: {
            authorization: `Bearer ${opts.apiKey}`,
            accept: 'application/json, application/problem+json',
            ...(req.body !== undefined ? { 'content-type': 'application/json' } : {}),
            ...req.headers,
          },
          body: req.body === undefined ? undefined : JSON.stringify(req.body),
          signal: AbortSignal.timeout(timeoutMs),
        });
        text = await res.text();
      } catch (e) {
        throw transportError(e, baseUrl, timeoutMs);
      }
      const body = parseJson(text);
      if (res.ok) {
        if (text && body === undefined)
          throw new CliError('BAD_RESPONSE', `${req.method} ${url.pathname} answered ${res.status} with a body that is not JSON`);
        return { status: res.status, body: (body ?? null) as T };
      }
      if (body && typeof body === 'object' && !Array.isArray(body) && 'code' in body) {
        throw new ProblemError(body as Record<string, unknown>, res.status);
      }
      throw new CliError(
        'BAD_RESPONSE',
        `${req.method} ${url.pathname} answered HTTP ${res.status}${text ? `: ${text.slice(0, 200)}` : ''}`,
      );
    },
  };
}

function parseJson(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function transportError(e: unknown, baseUrl: string, timeoutMs: number): CliError {
  const err = e as Error & { cause?: { code?: string; message?: string } };
  if (err.name === 'TimeoutError' || err.name === 'AbortError') {
    return new CliError('TIMEOUT', `${baseUrl} did not answer within ${Math.round(timeoutMs / 1000)} s`);
  }
  const why = err.cause?.code ?? err.cause?.message ?? err.message;
  return new CliError('UNREACHABLE', `cannot reach ${baseUrl} (${why}); is \`postwarden serve\` running? (--url, POSTWARDEN_URL)`);
}
