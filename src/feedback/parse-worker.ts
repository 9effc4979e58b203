import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { isPostwardenError } from '../core/index.js';
import { parseFeedback } from './detect.js';
import { checkMimeStructure } from './mime-structure.js';
import { type ReportLimits, setReportLimits } from './report-limits.js';
import { checkDeclaredSize } from './report-payload.js';
import { loadDefaultRuleset } from './rules-files.js';

/**
 * A feedback parsing thread (see parse-pool.ts): MIME structure check, MIME parse, unpacking and
 * report parsing, all under the thread's heap limit and the pool's deadline, never on the event
 * loop. It answers with the parsed document, plain data. DSN recipients are classified here with the
 * default ruleset only so the shape is complete; the caller classifies them again with its own.
 */

export interface ParseRequest {
  job: number;
  raw: Uint8Array;
  filename?: string;
}

export type ParseReply =
  | { job: number; ok: true; feedback: Awaited<ReturnType<typeof parseFeedback>> }
  | { job: number; ok: false; code?: string; message: string; details?: Record<string, unknown> };

export interface ParseWorkerData {
  marker: typeof parseWorkerMarker;
  limits: ReportLimits;
}

/** workerData marker, so importing this file elsewhere never starts the loop. */
export const parseWorkerMarker = 'postwarden-feedback-parser';

function serve(port: NonNullable<typeof parentPort>, data: ParseWorkerData): void {
  setReportLimits(data.limits);
  const ruleset = loadDefaultRuleset();
  port.on('message', (req: ParseRequest) => {
    void (async () => {
      try {
        const raw = Buffer.from(req.raw.buffer, req.raw.byteOffset, req.raw.byteLength);
        checkMimeStructure(raw, data.limits);
        checkDeclaredSize(raw);
        const feedback = await parseFeedback(raw, { ruleset, ...(req.filename ? { filename: req.filename } : {}) });
        port.postMessage({ job: req.job, ok: true, feedback } satisfies ParseReply);
      } catch (e) {
        const reply: ParseReply = isPostwardenError(e)
          ? { job: req.job, ok: false, code: e.code, message: e.message, details: e.details }
          : { job: req.job, ok: false, message: e instanceof Error ? e.message : String(e) };
        port.postMessage(reply);
      }
    })();
  });
  port.postMessage({ ready: true });
}

if (!isMainThread && parentPort && (workerData as ParseWorkerData | undefined)?.marker === parseWorkerMarker) {
  serve(parentPort, workerData as ParseWorkerData);
}
