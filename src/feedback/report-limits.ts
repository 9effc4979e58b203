/**
 * The limits that keep hostile feedback cheap: a document that breaks one is refused with
 * CONTENT_LIMIT_EXCEEDED (554 5.6.0 on the MX, 422 on POST /v1/feedback), naming the limit and the
 * setting that raises it, because it would fail the same way on every retry.
 *
 * Parsing runs in worker threads (parse-pool.ts). Each worker sets its limits once, when it starts,
 * from the configuration it is given; the parsers read them as defaults, so callers that build
 * their own budget still pass one explicitly. A thread that never calls `setReportLimits` (unit
 * tests, the CLI parsing a file) gets the defaults below, which are the configuration defaults.
 */
import { PostwardenError } from '../core/index.js';

export interface ReportLimits {
  /** Bytes that unpacking one document may produce, over every layer and attachment. */
  maxUnpackedBytes: number;
  /** Records in one DMARC aggregate report, policies in one TLS-RPT report. */
  maxRecords: number;
  /** MIME parts in one message, nested messages included. */
  maxMimeParts: number;
  /** Nesting of multiparts and embedded messages. */
  maxMimeDepth: number;
}

export const defaultReportLimits: Readonly<ReportLimits> = {
  maxUnpackedBytes: 32 * 1024 * 1024,
  maxRecords: 10_000,
  maxMimeParts: 500,
  maxMimeDepth: 20,
};

/** The setting that raises each limit, as an operator writes it. */
export const limitSettings: Record<keyof ReportLimits | 'parseTimeoutMs' | 'parseMemoryMb', string> = {
  maxUnpackedBytes: 'feedback.maxUnpackedBytes',
  maxRecords: 'feedback.maxReportRecords',
  maxMimeParts: 'feedback.maxMimeParts',
  maxMimeDepth: 'feedback.maxMimeDepth',
  parseTimeoutMs: 'feedback.parseTimeoutMs',
  parseMemoryMb: 'feedback.parseMemoryMb',
};

let active: ReportLimits = { ...defaultReportLimits };

/** Called once per worker thread, before its first document. */
export function setReportLimits(limits: ReportLimits): void {
  active = { ...limits };
}

export function reportLimits(): Readonly<ReportLimits> {
  return active;
}

/** A document past a limit: permanent, and it says which limit and which setting. */
export function limitExceeded(limit: keyof typeof limitSettings, what: string, value: number): PostwardenError {
  // `reason` is what the sender is told (SMTP wire text too): only what it sent, the limit and the setting.
  const reason = `${what}; the limit is ${value} (${limitSettings[limit]})`;
  return new PostwardenError('CONTENT_LIMIT_EXCEEDED', reason, {
    limit: value,
    setting: limitSettings[limit],
    reason,
    errors: [{ path: '/', message: reason }],
  });
}

export function isLimitExceeded(e: unknown): e is PostwardenError {
  return e instanceof PostwardenError && e.code === 'CONTENT_LIMIT_EXCEEDED';
}
