import type { Worker } from 'node:worker_threads';
import { type ErrorCode, errorCatalogue, PostwardenError, startModuleWorker } from '../core/index.js';
import type { Feedback } from './detect.js';
import { type ParseReply, type ParseRequest, type ParseWorkerData, parseWorkerMarker } from './parse-worker.js';
import { limitExceeded, type ReportLimits } from './report-limits.js';

/**
 * Feedback parsing off the event loop. Everything an unauthenticated sender controls the size of
 * (MIME structure, archives, report XML and JSON) is parsed in worker threads, so a hostile report
 * costs a thread, never the node: `/healthz`, the API, submission and delivery keep running.
 *
 * Budget per document: one thread works on one document at a time, under a heap limit
 * (`memoryMb`, V8 resourceLimits) and a deadline (`timeoutMs`, counted from the moment the thread
 * gets it). A document past either is refused with CONTENT_LIMIT_EXCEEDED and the thread is
 * replaced; the limits inside the parsers (report-limits.ts) refuse most hostile input long before.
 * Documents wait in a bounded queue when every thread is busy; past `maxQueue` the pool answers
 * OVERLOADED (421 on the MX: the sender comes back later).
 *
 * Threads start with the first document that needs one, not with the node: most nodes receive feedback
 * rarely, and a thread costs its start-up (the bounce ruleset's compilation) and its heap. The deadline
 * starts once a thread is ready, so a cold start never counts against a document.
 */
export interface ParsePoolOptions {
  threads: number;
  timeoutMs: number;
  memoryMb: number;
  limits: ReportLimits;
  /** Documents waiting for a thread before `parse` refuses with OVERLOADED (default 64). */
  maxQueue?: number;
  log?: { warn(obj: object, msg: string): void };
}

export interface ParsePool {
  parse(raw: Buffer, filename?: string): Promise<Feedback>;
  close(): Promise<void>;
}

interface Job {
  id: number;
  raw: Buffer;
  filename: string | undefined;
  resolve(f: Feedback): void;
  reject(e: Error): void;
}

interface Slot {
  worker: Worker | undefined;
  ready: boolean;
  job: Job | undefined;
  timer: NodeJS.Timeout | undefined;
  lastError: NodeJS.ErrnoException | undefined;
  /** Threads that exited before they were ready, in a row: a broken install, not a hostile document. */
  failedStarts: number;
}

export function createParsePool(opts: ParsePoolOptions): ParsePool {
  const maxQueue = opts.maxQueue ?? 64;
  const queue: Job[] = [];
  const slots: Slot[] = Array.from({ length: Math.max(1, opts.threads) }, () => ({
    worker: undefined,
    ready: false,
    job: undefined,
    timer: undefined,
    lastError: undefined,
    failedStarts: 0,
  }));
  let nextJob = 1;
  let closed = false;

  function start(slot: Slot): void {
    const worker = spawnParseWorker({ marker: parseWorkerMarker, limits: opts.limits }, opts.memoryMb);
    slot.worker = worker;
    slot.ready = false;
    slot.lastError = undefined;
    worker.unref();
    worker.on('message', (m: ParseReply | { ready: true }) => {
      if ('ready' in m) {
        slot.ready = true;
        slot.failedStarts = 0;
        pump();
      } else onReply(slot, m);
    });
    worker.on('error', (e: NodeJS.ErrnoException) => {
      slot.lastError = e;
    });
    worker.on('exit', () => onExit(slot, worker));
  }

  function post(slot: Slot, job: Job): void {
    slot.job = job;
    slot.worker!.ref();
    // A copy of exactly the document, transferred: a pooled Buffer would drag its whole slab along.
    const raw = new Uint8Array(job.raw);
    const req: ParseRequest = { job: job.id, raw, ...(job.filename ? { filename: job.filename } : {}) };
    slot.worker!.postMessage(req, [raw.buffer]);
    slot.timer = setTimeout(() => {
      const worker = slot.worker;
      release(slot);
      slot.worker = undefined;
      void worker?.terminate();
      opts.log?.warn({ timeoutMs: opts.timeoutMs, bytes: job.raw.length }, 'feedback parsing ran past its deadline; thread replaced');
      job.reject(limitExceeded('parseTimeoutMs', `parsing took longer than ${opts.timeoutMs} ms`, opts.timeoutMs));
      pump();
    }, opts.timeoutMs);
  }

  /** Frees the slot of its job; the caller settles the job. */
  function release(slot: Slot): Job | undefined {
    const job = slot.job;
    slot.job = undefined;
    if (slot.timer) clearTimeout(slot.timer);
    slot.timer = undefined;
    slot.worker?.unref();
    return job;
  }

  function onReply(slot: Slot, reply: ParseReply): void {
    if (slot.job?.id !== reply.job) return;
    const job = release(slot)!;
    if (reply.ok) job.resolve(reply.feedback);
    else job.reject(rebuild(reply));
    pump();
  }

  function onExit(slot: Slot, worker: Worker): void {
    if (slot.worker !== worker) return;
    const wasReady = slot.ready;
    slot.worker = undefined;
    slot.ready = false;
    const job = release(slot);
    const e = slot.lastError;
    if (job) {
      if (e?.code === 'ERR_WORKER_OUT_OF_MEMORY') {
        opts.log?.warn({ memoryMb: opts.memoryMb, bytes: job.raw.length }, 'feedback parsing ran out of its memory; thread replaced');
        job.reject(limitExceeded('parseMemoryMb', `parsing needed more than ${opts.memoryMb} MB of memory`, opts.memoryMb));
      } else {
        job.reject(new PostwardenError('INTERNAL', `feedback parsing thread exited: ${e?.message ?? 'no reason given'}`));
      }
    } else if (!wasReady && !closed) {
      slot.failedStarts++;
      opts.log?.warn({ error: e?.message, failedStarts: slot.failedStarts }, 'feedback parsing thread failed to start');
      // A thread that cannot even start will not start for the next document either: fail the waiting ones.
      if (slot.failedStarts >= 3) {
        for (const waiting of queue.splice(0)) {
          waiting.reject(new PostwardenError('INTERNAL', `feedback parsing threads fail to start: ${e?.message ?? 'exited'}`));
        }
        return;
      }
    }
    pump();
  }

  function pump(): void {
    if (closed) return;
    for (const slot of slots) {
      if (queue.length === 0) return;
      if (!slot.worker) start(slot);
      else if (slot.ready && !slot.job) post(slot, queue.shift()!);
    }
  }

  return {
    parse(raw, filename) {
      if (closed) return Promise.reject(new PostwardenError('INTERNAL', 'feedback parser closed'));
      if (queue.length >= maxQueue) {
        return Promise.reject(
          new PostwardenError('OVERLOADED', `feedback parsing queue is full (${maxQueue} documents)`, { retryAfter: 5 }),
        );
      }
      return new Promise<Feedback>((resolve, reject) => {
        queue.push({ id: nextJob++, raw, filename, resolve, reject });
        pump();
      });
    },
    async close() {
      closed = true;
      for (const job of queue.splice(0)) job.reject(new PostwardenError('INTERNAL', 'feedback parser closed'));
      await Promise.all(
        slots.map(async (slot) => {
          const worker = slot.worker;
          slot.worker = undefined;
          release(slot)?.reject(new PostwardenError('INTERNAL', 'feedback parser closed'));
          await worker?.terminate();
        }),
      );
    },
  };
}

function rebuild(reply: Extract<ParseReply, { ok: false }>): Error {
  if (reply.code && reply.code in errorCatalogue) {
    return new PostwardenError(reply.code as ErrorCode, reply.message, reply.details ?? {});
  }
  return new PostwardenError('INTERNAL', `feedback parsing failed: ${reply.message}`);
}

/** Starts a parsing thread with its heap bounded by the memory budget. */
function spawnParseWorker(workerData: ParseWorkerData, memoryMb: number): Worker {
  const here = import.meta.url;
  const options = {
    workerData,
    resourceLimits: { maxOldGenerationSizeMb: memoryMb, maxYoungGenerationSizeMb: Math.max(4, Math.min(32, Math.floor(memoryMb / 8))) },
  };
  return startModuleWorker(here, 'parse-worker', options);
}
