import type { FastifyInstance, FastifyRequest } from 'fastify';
import { PostwardenError } from '../../core/index.js';
import { hasScope, type Principal, type Scope, type Tenants } from '../../tenants/index.js';

/**
 * Bearer API keys. Each route names the scope it needs in `config.scope`; a route without one is
 * public (health, docs). The principal (tenant + scopes) hangs on the request for handlers.
 */
declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
  interface FastifyContextConfig {
    scope?: Scope;
  }
}

export function registerAuth(app: FastifyInstance, tenants: Pick<Tenants, 'authenticate'>): void {
  app.decorateRequest('principal', undefined);
  app.addHook('onRequest', async (request) => {
    const scope = request.routeOptions.config?.scope;
    if (!scope) return;
    const header = request.headers.authorization ?? '';
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    const principal = m ? await tenants.authenticate(m[1]!) : undefined;
    if (!principal) {
      throw new PostwardenError(
        'UNAUTHENTICATED',
        m ? 'The API key is unknown or revoked.' : 'Send an API key: Authorization: Bearer pw_…',
      );
    }
    if (!hasScope(principal.scopes, scope)) {
      throw new PostwardenError('FORBIDDEN', `This operation needs the "${scope}" scope; the key has ${principal.scopes.join(', ')}.`);
    }
    request.principal = principal;
  });
}

export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new PostwardenError('UNAUTHENTICATED', 'Send an API key: Authorization: Bearer pw_…');
  return request.principal;
}
