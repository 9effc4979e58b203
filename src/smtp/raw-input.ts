import type { SMTPServerDataStream } from 'smtp-server';
import { type BudgetHold, PostwardenError } from '../core/index.js';

/**
 * What both SMTP listeners do with the bytes after DATA: read them within the size limit and the
 * node's budget of bytes in flight, then refuse input that is not a legal message before anyone
 * parses it.
 */
export interface ReadMessage {
  raw: Buffer;
  /** Bytes the client sent, kept or not. */
  bytes: number;
  /** True when the node's budget of bytes in flight ran out while reading; nothing was kept. */
  overBudget: boolean;
}

/**
 * Reads the message up to `limit`. Past the limit, or once the budget refuses to grow, the bytes are
 * drained, not kept, so a huge message or a crowd of them costs no memory; the client still has to
 * finish sending before it can hear the refusal (RFC 5321 §4.2.5 lets DATA end with 552 or 452).
 */
export function readMessage(stream: SMTPServerDataStream, limit: number, hold: BudgetHold): Promise<ReadMessage> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    let dropping = false;
    let overBudget = false;
    stream.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (dropping) return;
      if (bytes > limit) dropping = true;
      else if (!hold.grow(chunk.length)) dropping = overBudget = true;
      else chunks.push(chunk);
      if (dropping) {
        chunks.length = 0;
        hold.release();
      }
    });
    stream.once('end', () => resolve({ raw: dropping ? Buffer.alloc(0) : Buffer.concat(chunks, bytes), bytes, overBudget }));
    stream.once('error', reject);
  });
}

/** The refusal for a read that ran out of budget: 452 4.3.1 on SMTP, the client retries later. */
export function budgetExhausted(limit: number): PostwardenError {
  return new PostwardenError('BODY_BUDGET_EXHAUSTED', `more than ${limit} message bytes in flight on this node`, {
    limit,
    retryAfter: 5,
  });
}

/** RFC 5322 §2.1.1: a line is at most 998 characters, not counting its CRLF. */
export const MAX_LINE = 998;

/**
 * The first header line longer than RFC 5322 §2.1.1 allows, or undefined. Only the header section is
 * read (up to the first empty line): a folded field is several lines and each must fit, and no
 * repair is attempted, because a relay that rewraps a header breaks its DKIM signature.
 */
export function overlongHeaderLine(raw: Buffer, max = MAX_LINE): { line: number; length: number } | undefined {
  let start = 0;
  for (let line = 1; start < raw.length; line++) {
    let end = raw.indexOf(0x0a, start);
    if (end < 0) end = raw.length;
    const length = end - start - (end > start && raw[end - 1] === 0x0d ? 1 : 0);
    if (length === 0) return undefined; // the empty line that ends the header section
    if (length > max) return { line, length };
    start = end + 1;
  }
  return undefined;
}

/** Refuses raw input whose header section breaks RFC 5322 §2.1.1 (550 5.6.0 on SMTP). */
export function checkHeaderLines(raw: Buffer): void {
  const long = overlongHeaderLine(raw);
  if (long) {
    throw new PostwardenError(
      'VALIDATION_FAILED',
      `header line ${long.line} is ${long.length} characters; the limit is ${MAX_LINE} (RFC 5322 §2.1.1)`,
      long,
    );
  }
}
