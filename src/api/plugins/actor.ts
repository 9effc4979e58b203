import type { FastifyRequest } from 'fastify';
import type { Actor } from '../../audit/index.js';
import { principalOf } from './auth.js';

/**
 * The audit actor of a request: the signed-in user of a session, or the API key that authenticated
 * it (its tenant and key id, from `request.principal`), the client address (request.ip, which honours
 * server.trustProxy) and the User-Agent, cut to a length a log line can hold.
 */
export function actorOf(request: FastifyRequest): Actor {
  const p = principalOf(request);
  const ua = request.headers['user-agent'];
  return {
    kind: p.user ? 'user' : 'api_key',
    id: p.user ? p.user.id : p.keyId,
    tenantId: p.tenant.id,
    ip: request.ip ?? null,
    userAgent: typeof ua === 'string' ? ua.slice(0, 512) : null,
    keyId: p.user ? null : p.keyId,
  };
}
