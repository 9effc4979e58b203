import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { createPoster, type PostResult } from './poster.js';

/**
 * The webhook POST thread. poster-thread.ts sends it the POSTs (in batches, one message per turn of
 * its event loop); it runs the real poster (poster.ts: undici, the SSRF guard in the socket's DNS
 * lookup, the deadline) and answers each with its PostResult. The HTTP client's parsing, socket and stream work then costs this thread, not the
 * main one that also runs delivery (docs/webhooks.md, "Throughput").
 */

export interface PosterWorkerData {
  marker: typeof posterWorkerMarker;
  timeoutMs: number;
  allowPrivateTargets: boolean;
  connections?: number;
}

export interface PosterWorkerPost {
  id: number;
  url: string;
  headers: Record<string, string>;
  body: string;
}

/** POSTs go in batches: those asked for in one turn of the caller's event loop, one message. */
export type PosterWorkerRequest = PosterWorkerPost[] | { close: true };

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
  // Answers go back in batches too: those finished in one turn of this thread's loop, one message.
  let answers: PosterWorkerReply[] = [];
  const flush = () => {
    port.postMessage(answers);
    answers = [];
  };
  const answer = (id: number, result: PostResult) => {
    if (answers.push({ id, result }) === 1) setImmediate(flush);
  };
  port.on('message', (req: PosterWorkerRequest) => {
    if (!Array.isArray(req)) {
      // Closing the agent ends its keep-alive sockets; with the port closed too, the thread exits.
      void poster.close().finally(() => port.close());
      return;
    }
    // post() never throws: every request gets exactly one answer.
    for (const p of req) void poster.post(p.url, p.headers, p.body).then((result) => answer(p.id, result));
  });
  // Ready: the caller starts counting its overdue POSTs from here, not from the thread's start.
  port.postMessage([] satisfies PosterWorkerReply[]);
}

const data = workerData as Partial<PosterWorkerData> | null;
if (!isMainThread && parentPort && data?.marker === posterWorkerMarker) serve(parentPort, data as PosterWorkerData);
