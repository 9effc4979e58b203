import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';

/**
 * A loopback HTTP proxy in front of a platform that misbehaves on cue, for tests of clients'
 * retries. Each request is numbered from 1; `plan(n)` says what happens to request n:
 * - `forward`: passed to the target and its answer passed back;
 * - `{ status, headers?, body? }`: answered by the proxy, the target never sees it;
 * - `reset`: the connection is destroyed before any answer (a network error);
 * - `forward-and-withhold`: passed to the target, which does the work, but its answer is never sent
 *   back (the client times out: the case an Idempotency-Key exists for).
 * Every request is recorded (method, url, headers, body), including the ones the target never saw.
 */
export type ProxyStep = 'forward' | 'reset' | 'forward-and-withhold' | { status: number; headers?: Record<string, string>; body?: unknown };

export interface SeenRequest {
  n: number;
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface FaultProxy {
  url: string;
  seen: SeenRequest[];
  /** Resolves once the target answered every request forwarded so far (withheld ones included). */
  settled(): Promise<void>;
}

export async function startFaultProxy(t: TestContext, target: string, plan: (n: number) => ProxyStep): Promise<FaultProxy> {
  const seen: SeenRequest[] = [];
  const forwards: Promise<unknown>[] = [];
  const forward = async (r: SeenRequest) => {
    const res = await fetch(target + r.url, {
      method: r.method,
      headers: Object.entries(r.headers).flatMap(([k, v]) =>
        k === 'host' || k === 'connection' || k === 'content-length' || v === undefined ? [] : [[k, String(v)] as [string, string]],
      ),
      body: r.body === '' ? undefined : r.body,
    });
    return { status: res.status, headers: res.headers, body: await res.text() };
  };
  const answer = (res: ServerResponse, status: number, headers: Record<string, string>, body: string) => {
    res.writeHead(status, headers);
    res.end(body);
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r = {
        n: seen.length + 1,
        method: req.method ?? 'GET',
        url: req.url ?? '/',
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      };
      seen.push(r);
      const step = plan(r.n);
      if (step === 'reset') return req.socket.destroy();
      if (step === 'forward' || step === 'forward-and-withhold') {
        const done = forward(r).then(
          (up) => {
            if (step === 'forward-and-withhold') return;
            const type = up.headers.get('content-type');
            const retryAfter = up.headers.get('retry-after');
            answer(
              res,
              up.status,
              { ...(type ? { 'content-type': type } : {}), ...(retryAfter ? { 'retry-after': retryAfter } : {}) },
              up.body,
            );
          },
          () => res.destroy(),
        );
        forwards.push(done);
        return;
      }
      const body = step.body === undefined ? '' : typeof step.body === 'string' ? step.body : JSON.stringify(step.body);
      answer(res, step.status, { 'content-type': 'application/problem+json', ...step.headers }, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, seen, settled: async () => void (await Promise.all(forwards)) };
}
