import type { Worker } from 'node:worker_threads';
import { startModuleWorker } from '../../core/index.js';
import type { Poster, PostResult } from './poster.js';
import {
  type PosterWorkerData,
  type PosterWorkerPost,
  type PosterWorkerReply,
  type PosterWorkerRequest,
  posterWorkerMarker,
} from './poster-worker.js';

/**
 * A Poster whose POSTs run in a worker thread (poster-worker.ts), behind the same contract as
 * poster.ts: never throws, one PostResult per call. On SQLite, delivery is bound by the main thread,
 * and the HTTP client's share of each webhook POST (undici's request, parser, socket and stream work)
 * took 0.065–0.18 ms of it. Here the main thread pays a share of one postMessage out and one back
 * (POSTs asked for in the same turn of the event loop travel together): 0.012–0.021 ms.
 *
 * The thread starts with the first POST. If it exits (crash, heap cap), the POSTs in flight resolve
 * as failed attempts, which the sender retries like any other (at least once, same webhook-id), and
 * the next POST starts a new thread; a thread that keeps dying without answering backs off (0.25 s …
 * 30 s), failing POSTs fast meanwhile. A thread that holds a POST well past the deadline is wedged
 * and is replaced the same way. It never keeps the process alive while idle.
 */

export interface ThreadPosterOptions {
  timeoutMs: number;
  allowPrivateTargets: boolean;
  connections?: number;
  /** POSTs in flight before `post` answers a failed attempt at once (default 10,000). */
  maxInFlight?: number;
  /**
   * Body characters in the thread at once (default 16 Mi); further POSTs wait their turn here, in
   * order. One larger body still goes, alone.
   */
  maxBodyInFlight?: number;
  /** Starts the thread; injected by tests to watch or kill it. */
  spawnWorker?: (data: PosterWorkerData) => Worker;
  log?: { warn(obj: object, msg: string): void };
}

/**
 * A thread holds the POSTs in flight and undici's sockets, a few MB; capped, it collects sooner than
 * V8's defaults let it (as the DKIM threads). Bodies count against the cap, so the characters in the
 * thread are bounded too (`maxBodyInFlight`): 256 POSTs of 400 KB batches made it exit over and over.
 * Were the cap reached still, the thread would exit and be replaced, its POSTs retried by the sender.
 */
const POSTER_THREAD_HEAP = { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 8 };

/** Starts a POST thread (built .js or, under tsx, the .ts sources: see core/module-worker.ts). */
export function spawnPosterWorker(data: PosterWorkerData): Worker {
  return startModuleWorker(import.meta.url, 'poster-worker', { workerData: data, resourceLimits: POSTER_THREAD_HEAP });
}

/** How long a thread may take to load before it counts as wedged. */
const STARTUP_MS = 30_000;

interface Pending {
  resolve(r: PostResult): void;
  /** When it went to the thread (or was queued, until it goes). */
  sentAt: number;
  size: number;
}

const failed = (error: string, latencyMs = 0): PostResult => ({ ok: false, status: null, latencyMs, excerpt: null, error });

export function createThreadPoster(opts: ThreadPosterOptions): Poster {
  const spawn = opts.spawnWorker ?? spawnPosterWorker;
  const maxInFlight = opts.maxInFlight ?? 10_000;
  const maxBody = opts.maxBodyInFlight ?? 16 * 1024 * 1024;
  const data: PosterWorkerData = {
    marker: posterWorkerMarker,
    timeoutMs: opts.timeoutMs,
    allowPrivateTargets: opts.allowPrivateTargets,
    ...(opts.connections ? { connections: opts.connections } : {}),
  };
  // Past its own deadline (undici's timeouts inside the thread) plus slack, a POST is overdue. The
  // clock starts when the thread is ready: loading it takes seconds under tsx on a busy machine.
  const overdueMs = opts.timeoutMs * 2 + 1000;
  const pending = new Map<number, Pending>();
  let nextId = 1;
  let worker: Worker | undefined;
  let closed = false;
  /** Exits since the last answer; drives the back-off. */
  let failures = 0;
  let retryAt = 0;
  let lastError = '';
  /** When the current thread said it was serving (0: not yet), and when it was started. */
  let readyAt = 0;
  let startedAt = 0;
  let sweep: NodeJS.Timeout | undefined;
  /**
   * POSTs asked for in this turn of the event loop, sent as one message when it ends: the sender
   * starts many at once (each answer read frees a slot), and a message per batch rather than per
   * POST saves both threads a wake-up and a structured-clone header for each.
   */
  let outbox: PosterWorkerPost[] = [];
  const flush = () => {
    const batch = outbox;
    outbox = [];
    if (batch.length) worker?.postMessage(batch satisfies PosterWorkerRequest);
  };
  /** Body characters sent to the thread and not answered yet, and the POSTs waiting for room. */
  let bodyInFlight = 0;
  let waiting: PosterWorkerPost[] = [];
  let waitingHead = 0;
  const send = (p: PosterWorkerPost, entry: Pending) => {
    bodyInFlight += entry.size;
    entry.sentAt = Date.now();
    if (outbox.push(p) === 1) setImmediate(flush);
  };
  const hasRoom = (size: number) => bodyInFlight === 0 || bodyInFlight + size <= maxBody;

  function start(): Worker {
    const w = spawn(data);
    lastError = '';
    readyAt = 0;
    startedAt = Date.now();
    w.on('message', (replies: PosterWorkerReply[]) => {
      if (readyAt === 0) readyAt = Date.now(); // its first message, empty, says it serves
      for (const reply of replies) {
        const p = pending.get(reply.id);
        if (!p) continue;
        pending.delete(reply.id);
        bodyInFlight -= p.size;
        failures = 0;
        p.resolve(reply.result);
      }
      // FIFO, so a large body is not passed over for ever by small ones.
      while (waitingHead < waiting.length) {
        const next = waiting[waitingHead]!;
        const entry = pending.get(next.id)!;
        if (!hasRoom(entry.size)) break;
        waitingHead++;
        send(next, entry);
      }
      if (waitingHead === waiting.length) {
        waiting = [];
        waitingHead = 0;
      }
      // Idle, the thread must not keep the process alive; busy, it must, or awaited POSTs vanish.
      if (pending.size === 0) w.unref();
    });
    w.on('error', (e) => {
      lastError = e.message;
    });
    w.on('exit', (code) => onExit(w, code));
    w.unref();
    sweep ??= setInterval(checkOverdue, Math.max(1000, opts.timeoutMs)).unref();
    return w;
  }

  function failAll(error: string): void {
    outbox = [];
    waiting = [];
    waitingHead = 0;
    bodyInFlight = 0;
    const now = Date.now();
    const all = [...pending.values()];
    pending.clear();
    for (const p of all) p.resolve(failed(error, now - p.sentAt));
  }

  function onExit(w: Worker, code: number): void {
    if (worker !== w) return;
    worker = undefined;
    if (closed) {
      failAll('webhook poster closed');
      return;
    }
    failures++;
    retryAt = failures <= 1 ? 0 : Date.now() + Math.min(30_000, 250 * 2 ** (failures - 2));
    const reason = `webhook POST thread exited with code ${code}${lastError ? ` (${lastError})` : ''}`;
    lastError = reason;
    opts.log?.warn({ code, inFlight: pending.size, failures }, 'webhook POST thread exited; the next POST starts a new one');
    failAll(reason);
  }

  function checkOverdue(): void {
    if (!worker || pending.size === 0) return;
    const now = Date.now();
    if (readyAt === 0) {
      if (now - startedAt < STARTUP_MS) return;
      lastError = `the thread did not start within ${STARTUP_MS} ms`;
    } else {
      // Map order is send order: the oldest POST is first.
      const oldest = pending.values().next().value!;
      if (now - Math.max(oldest.sentAt, readyAt) < overdueMs) return;
      lastError = `no answer from the thread within ${overdueMs} ms`;
    }
    void worker.terminate(); // onExit fails what was in flight
  }

  return {
    post(url, headers, body) {
      if (closed) return Promise.resolve(failed('webhook poster closed'));
      if (pending.size >= maxInFlight) return Promise.resolve(failed(`webhook poster busy: ${maxInFlight} POSTs in flight`));
      if (!worker) {
        if (Date.now() < retryAt) return Promise.resolve(failed(`${lastError}; restarting shortly`));
        worker = start();
      }
      const id = nextId++;
      if (pending.size === 0) worker.ref();
      return new Promise((resolve) => {
        const entry: Pending = { resolve, sentAt: Date.now(), size: body.length };
        pending.set(id, entry);
        const p = { id, url, headers, body };
        if (waitingHead === waiting.length && hasRoom(entry.size)) send(p, entry);
        else waiting.push(p);
      });
    },
    async close() {
      if (closed) return;
      closed = true;
      if (sweep) clearInterval(sweep);
      failAll('webhook poster closed');
      const w = worker;
      if (!w) return;
      // The thread closes its agent and exits; one that does not within a second is terminated.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => void w.terminate().finally(resolve), 1000);
        w.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        w.postMessage({ close: true } satisfies PosterWorkerRequest);
      });
      worker = undefined;
    },
  };
}
