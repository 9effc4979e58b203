import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { createPoster, type PostResult } from './poster.js';

/**
 * The webhook POST thread. poster-thread.ts sends it one message per POST; it runs the real poster
 * (poster.ts: undici, the SSRF guard in the socket's DNS lookup, the deadline) and answers with the
 * PostResult. The HTTP client's parsing, socket and stream work then costs this thread, not the
 * main one that also runs delivery (docs/webhooks.md, "Throughput").
 */

export interface PosterWorkerData {
  marker: typeof posterWorkerMarker;
  timeoutMs: number;
  allowPrivateTargets: boolean;
  connections?: number;
}

export type PosterWorkerRequest = { id: number; url: string; headers: Record<string, string>; body: string } | { close: true };

export interface PosterWorkerReply {
  id: number;
  result: PostResult;
}

/** workerData marker, so importing this file elsewhere never starts the loop. */
export const posterWorkerMarker = 'postwarden-webhook-poster';

function serve(port: NonNullable<typeof parentPort>, data: PosterWorkerData): void {
  const poster = createPoster({
    timeoutMs: data.timeoutMs,
    allowPrivateTargets: data.allowPrivateTargets,
    ...(data.connections ? { connections: data.connections } : {}),
  });
  port.on('message', (req: PosterWorkerRequest) => {
    if ('close' in req) {
      // Closing the agent ends its keep-alive sockets; with the port closed too, the thread exits.
      void poster.close().finally(() => port.close());
      return;
    }
    // post() never throws: every request gets exactly one answer.
    void poster.post(req.url, req.headers, req.body).then((result) => port.postMessage({ id: req.id, result } satisfies PosterWorkerReply));
  });
}

const data = workerData as Partial<PosterWorkerData> | null;
if (!isMainThread && parentPort && data?.marker === posterWorkerMarker) serve(parentPort, data as PosterWorkerData);
