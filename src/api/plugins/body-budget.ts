import { Transform } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { type ByteBudget, PostwardenError } from '../../core/index.js';

/**
 * Bounds the request bodies this node holds at once (core/byte-budget.ts, shared with both SMTP
 * listeners). A body declared with Content-Length is reserved whole before a byte is read; a chunked
 * one grows its hold as chunks arrive. Past the budget the request is answered 503 problem+json with
 * Retry-After and nothing is read or kept. The hold lasts until the response is gone, because parsing,
 * composing and accepting keep copies of the body alive until then.
 */
export const BUDGET_RETRY_AFTER_SECONDS = 5;

function exhausted(budget: ByteBudget): PostwardenError {
  return new PostwardenError(
    'BODY_BUDGET_EXHAUSTED',
    `This node is already reading ${budget.limit} bytes of request bodies (limits.maxBodyBytesInFlight); retry shortly.`,
    { retryAfter: BUDGET_RETRY_AFTER_SECONDS },
  );
}

export function registerBodyBudget(app: FastifyInstance, budget: ByteBudget): void {
  if (budget.limit <= 0) return;
  app.addHook('preParsing', async (request, reply, payload) => {
    // No Content-Length and no Transfer-Encoding: HTTP/1.1 says there is no body (RFC 9112 §6.3).
    if (request.headers['content-length'] === undefined && request.headers['transfer-encoding'] === undefined) return payload;
    const hold = budget.hold();
    reply.raw.once('close', () => hold.release());
    const declared = Number(request.headers['content-length']);
    if (Number.isSafeInteger(declared) && declared >= 0) {
      if (!hold.grow(declared)) {
        // Answering before the body is read; Node discards what still arrives, and the connection
        // closes so an unread upload cannot hold it.
        reply.header('connection', 'close');
        throw exhausted(budget);
      }
      return payload;
    }
    const counted: Transform & { receivedEncodedLength?: number } = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        // Fastify's bodyLimit check reads this from the stream it is given.
        counted.receivedEncodedLength = (counted.receivedEncodedLength ?? 0) + chunk.length;
        if (hold.grow(chunk.length)) callback(null, chunk);
        else {
          reply.header('connection', 'close');
          callback(Object.assign(exhausted(budget), { statusCode: 503 }));
        }
      },
    });
    payload.on('error', (e) => counted.destroy(e));
    return payload.pipe(counted);
  });
}
