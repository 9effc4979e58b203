/**
 * The dashboard's only way out: the public API on this origin, with the API key as a Bearer
 * header. The key lives in sessionStorage (gone when the tab closes) and never in a URL.
 */
const KEY = 'postwarden.apiKey';

export const session = {
  key: (): string | null => sessionStorage.getItem(KEY),
  set: (key: string) => sessionStorage.setItem(KEY, key),
  clear: () => sessionStorage.removeItem(KEY),
};

/** An RFC 9457 problem answered by the API, or a network failure (status 0). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

export async function request(path: string, init: RequestInit = {}, key = session.key()): Promise<Response> {
  const headers = new Headers(init.headers);
  if (key) headers.set('authorization', `Bearer ${key}`);
  let res: Response;
  try {
    res = await fetch(path, { ...init, headers });
  } catch (e) {
    throw new ApiError(0, `The API did not answer: ${(e as Error).message}`);
  }
  if (res.ok) return res;
  let detail = `${res.status} ${res.statusText}`;
  let code: string | undefined;
  try {
    const p = (await res.json()) as { detail?: string; code?: string; errors?: { path: string; message: string }[] };
    detail = [p.detail, ...(p.errors ?? []).map((e) => `${e.path} ${e.message}`)].filter(Boolean).join(' ');
    code = p.code;
  } catch {
    /* not problem+json */
  }
  if (res.status === 401) {
    session.clear();
    window.dispatchEvent(new Event('postwarden:logout'));
  }
  throw new ApiError(res.status, detail, code);
}

export async function getJson<T>(path: string): Promise<T> {
  return (await (await request(path)).json()) as T;
}

export async function send(method: 'DELETE' | 'POST', path: string): Promise<void> {
  await request(path, { method });
}

/** A query string from the filled-in fields only. */
export function query(fields: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(fields)) if (v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}
