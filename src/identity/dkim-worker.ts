import { createPrivateKey, type KeyObject } from 'node:crypto';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import type { DkimAlgorithm } from '../store/index.js';
import { type DkimSignatureResult, type DkimSigningKey, signDkim } from './dkim-signature.js';

/**
 * A DKIM signing thread. The pool in dkim-signer.ts sends it messages and keys; it keeps each private
 * key parsed in its own cache (by key id) so the PEM crosses the thread boundary once, not per message,
 * and answers with the signature header fields only (the message stays with the caller).
 *
 * Protocol: the pool includes `pem` for keys it has not sent to this thread yet. If the thread has
 * dropped a key (its cache is bounded), it answers `missing` and the pool sends the job again with
 * the PEMs.
 */

export interface WorkerKeyRef {
  id: string;
  domain: string;
  selector: string;
  algorithm: DkimAlgorithm;
  pem?: string;
}

export interface WorkerSignRequest {
  job: number;
  raw: Uint8Array;
  keys: WorkerKeyRef[];
  timeMs: number;
}

export type WorkerSignReply =
  | ({ job: number; ok: true } & DkimSignatureResult)
  | { job: number; ok: false; missing: string[] }
  | { job: number; ok: false; missing?: undefined; message: string };

/** workerData marker, so importing this file elsewhere never starts the loop. */
export const dkimWorkerMarker = 'postwarden-dkim-signer';

const MAX_CACHED_KEYS = 4096;

function serve(port: NonNullable<typeof parentPort>): void {
  const keys = new Map<string, KeyObject>();
  port.on('message', (req: WorkerSignRequest) => {
    try {
      for (const k of req.keys) {
        if (k.pem === undefined || keys.has(k.id)) continue;
        if (keys.size >= MAX_CACHED_KEYS) keys.delete(keys.keys().next().value!); // oldest first
        keys.set(k.id, createPrivateKey({ key: k.pem, format: 'pem' }));
      }
      const missing = req.keys.filter((k) => !keys.has(k.id)).map((k) => k.id);
      if (missing.length) {
        port.postMessage({ job: req.job, ok: false, missing } satisfies WorkerSignReply);
        return;
      }
      const signing: DkimSigningKey[] = req.keys.map((k) => ({
        domain: k.domain,
        selector: k.selector,
        algorithm: k.algorithm,
        key: keys.get(k.id)!,
      }));
      const result = signDkim(Buffer.from(req.raw.buffer, req.raw.byteOffset, req.raw.byteLength), signing, req.timeMs);
      port.postMessage({ job: req.job, ok: true, ...result } satisfies WorkerSignReply);
    } catch (e) {
      port.postMessage({ job: req.job, ok: false, message: (e as Error).message } satisfies WorkerSignReply);
    }
  });
}

if (!isMainThread && parentPort && (workerData as { marker?: string } | null)?.marker === dkimWorkerMarker) serve(parentPort);
