import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type Clock, jsonSha256, PostwardenError } from '../../core/index.js';
import type { Store } from '../../store/index.js';

/**
 * `Idempotency-Key` on POSTs that create. The first request with a key reserves it; its 2xx answer
 * is stored and replayed for the same key and body for `ttlHours` (a replay carries
 * `Idempotent-Replayed: true`). The same key with another body is refused, and so is a key whose
 * first request is still running. A first request that fails stores nothing, so it can be retried.
 * A first request that never settled its key (the process died between its commit and its answer)
 * is presumed dead after `takeoverSeconds`: the next request with the same key and body runs again.
 */
declare module 'fastify' {
  interface FastifyRequest {
    idempotencyKey?: string;
  }
}

const KEY = /^[\x21-\x7e]{1,255}$/;

export function registerIdempotency(
  app: FastifyInstance,
  deps: { store: Pick<Store, 'idempotency'>; clock: Clock; ttlHours: number; takeoverSeconds: number },
): void {
  app.decorateRequest('idempotencyKey', undefined);

  app.addHook('preHandler', async (request: FastifyRequest, reply: FastifyReply) => {
    const key = request.headers['idempotency-key'];
    if (request.method !== 'POST' || key === undefined || !request.principal) return;
    if (typeof key !== 'string' || !KEY.test(key)) {
      throw new PostwardenError('VALIDATION_FAILED', 'Idempotency-Key must be 1-255 printable ASCII characters.', {
        errors: [{ path: '/headers/idempotency-key', message: 'must be 1-255 printable ASCII characters' }],
      });
    }
    // The same bytes as JSON.stringify, walked without recursion: a deeply nested body must reach the
    // handler and its 422, not overflow the stack here.
    const hash = jsonSha256(`${request.method} ${request.url}\n`, request.body ?? null);
    const tenantId = request.principal.tenant.id;
    const begun = await deps.store.idempotency.begin(tenantId, key, hash, {
      now: deps.clock.now(),
      ttlMs: deps.ttlHours * 3_600_000,
      takeoverMs: deps.takeoverSeconds * 1000,
    });
    switch (begun.kind) {
      case 'new':
        request.idempotencyKey = key;
        return;
      case 'replay':
        reply.header('idempotent-replayed', 'true');
        return reply.code(begun.status).send(begun.body);
      case 'conflict':
        throw new PostwardenError(
          'IDEMPOTENCY_CONFLICT',
          'This Idempotency-Key was used with a different request; use a new key for a new request.',
          {
            errors: [{ path: '/headers/idempotency-key', message: 'was already used with a different body' }],
          },
        );
      case 'in_progress':
        throw new PostwardenError(
          'IDEMPOTENCY_IN_PROGRESS',
          'The first request with this Idempotency-Key is still running; retry shortly.',
          {
            retryAfter: 1,
          },
        );
    }
  });

  app.addHook('onSend', async (request, reply, payload) => {
    const key = request.idempotencyKey;
    if (!key || !request.principal) return payload;
    const tenantId = request.principal.tenant.id;
    // The work is committed (or failed) by now: the answer goes out whether or not the key can be
    // settled. A key left in progress is taken over after limits.idempotencyTakeoverSeconds.
    try {
      if (reply.statusCode >= 200 && reply.statusCode < 300 && typeof payload === 'string') {
        await deps.store.idempotency.complete(tenantId, key, reply.statusCode, JSON.parse(payload));
      } else await deps.store.idempotency.abandon(tenantId, key);
    } catch (err) {
      request.log.warn({ err, key }, 'could not settle the Idempotency-Key; it stays in progress until taken over');
    }
    return payload;
  });
}
